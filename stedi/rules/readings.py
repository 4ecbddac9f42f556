"""accelerometer_trusted and step_trainer_trusted."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from stedi.policy import Policy
from stedi.rules import RuleResult
from stedi.rules.keys import lookup, normalise_email, normalise_serial
from stedi.rules.ownership import Ownership, device_owners, owner_at
from stedi.schemas import ACCELEROMETER, STEP_TRAINER

CONSENT = "shareWithResearchAsOfDate"

__all__ = [
    "Ownership",
    "accelerometer_decision",
    "accelerometer_trusted",
    "consent_lookup",
    "device_owners",
    "owner_consent",
    "step_trainer_trusted",
]


def consent_lookup(
    readings: pa.Table, column: str, customers: pa.Table, by: str, policy: Policy
) -> pa.ChunkedArray:
    """Per reading, the consent time of the customer it belongs to (null: no consenting owner).

    `by` is the customer column matched: `email` against a reading's user, `serialNumber` against a device.
    """
    # Serials match normalised under both policies; emails under `strict` only (the course kept them as is).
    normalise = policy is Policy.STRICT or by == "serialNumber"
    keys = normalise_email(customers[by]) if normalise else customers[by]
    return lookup(readings[column], keys.combine_chunks(), customers[CONSENT].combine_chunks(), normalise)


def accelerometer_decision(
    readings: pa.Table, trusted: pa.Table, policy: Policy
) -> tuple[pa.ChunkedArray, dict[str, int]]:
    """Which readings accelerometer_trusted keeps, and the counts; needs only `user` and `timestamp`."""
    consent = consent_lookup(readings, "user", trusted, "email", policy)
    owned = pc.is_valid(consent)
    if policy is Policy.UDACITY:
        keep = owned
        before = 0
    else:
        after = pc.fill_null(pc.greater_equal(readings["timestamp"], consent), False)
        keep = after
        before = int(pc.sum(owned).as_py() or 0) - int(pc.sum(after).as_py() or 0)
    counts = {
        "readings": readings.num_rows,
        "of_non_consenting_owners": readings.num_rows - int(pc.sum(owned).as_py() or 0),
        "before_consent": before,
    }
    return keep, counts


def accelerometer_trusted(readings: pa.Table, trusted: pa.Table, policy: Policy) -> RuleResult:
    """Readings of consenting owners; under `strict` only those taken at or after consent."""
    keep, counts = accelerometer_decision(readings, trusted, policy)
    return RuleResult(readings.filter(keep).select(ACCELEROMETER.schema.names), counts)


def step_trainer_trusted(
    steps: pa.Table,
    customers: pa.Table,
    curated: pa.Table,
    policy: Policy,
    ownership: Ownership | None = None,
) -> RuleResult:
    """Readings of curated customers' devices (strict: the device's owner at the reading's time).

    `strict`: a reading is kept iff its device had exactly one owner at the reading's time (see
    stedi.rules.ownership), that owner is curated, and the reading is at or after the owner's consent.
    `udacity`: any reading of a serial a curated record names (case-insensitively), whenever it was taken.
    `ownership` is `device_owners(customers)` when the caller already has it (a stream of chunks).
    """
    if policy is Policy.UDACITY:
        serials = pc.unique(pc.drop_null(normalise_serial(curated["serialNumber"])).combine_chunks())
        found = lookup(steps["serialNumber"], serials, pa.array([True] * len(serials), pa.bool_()), True)
        kept = steps.filter(pc.fill_null(found, False)).select(STEP_TRAINER.schema.names)
        return RuleResult(
            kept, {"readings": steps.num_rows, "not_of_curated_devices": steps.num_rows - kept.num_rows}
        )
    ownership = ownership or device_owners(customers)
    owner, shared = owner_at(steps["serialNumber"], steps["sensorReadingTime"], ownership)
    consent = owner_consent(owner, curated)
    owned = pc.is_valid(consent)
    after = pc.fill_null(pc.greater_equal(steps["sensorReadingTime"], consent), False)
    unattributable = int(pc.sum(shared).as_py() or 0)
    n_owned = int(pc.sum(owned).as_py() or 0)
    n_after = int(pc.sum(after).as_py() or 0)
    counts = {
        "readings": steps.num_rows,
        "shared_serials": len(ownership.shared),
        "of_unattributable_devices": unattributable,
        "not_of_curated_devices": steps.num_rows - n_owned - unattributable,
        "before_consent": n_owned - n_after,
    }
    return RuleResult(steps.filter(after).select(STEP_TRAINER.schema.names), counts)


def owner_consent(owner: pa.DictionaryArray, curated: pa.Table) -> pa.ChunkedArray:
    """Per reading, the consent time of its owner when the owner is curated (else null)."""
    keys = normalise_email(curated["email"]).combine_chunks()
    return lookup(owner, keys, curated[CONSENT].combine_chunks())
