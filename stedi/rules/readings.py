"""accelerometer_trusted and step_trainer_trusted."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from stedi.policy import Policy
from stedi.rules import RuleResult
from stedi.rules.customers import KEY, latest_customer_records
from stedi.rules.keys import lookup, normalise_email
from stedi.schemas import ACCELEROMETER, STEP_TRAINER

CONSENT = "shareWithResearchAsOfDate"


def consent_lookup(
    readings: pa.Table, column: str, customers: pa.Table, by: str, policy: Policy
) -> pa.ChunkedArray:
    """Per reading, the consent time of the customer it belongs to (null: no consenting owner).

    `by` is the customer column matched: `email` against a reading's user, `serialNumber` against a device.
    """
    normalise = policy is Policy.STRICT and by == "email"
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


def device_owners(customers: pa.Table) -> tuple[pa.Table, pa.Array]:
    """serialNumber -> owner key for devices with exactly one owner among the latest customer records.

    Also returns the serials shared by several customers: their readings cannot be attributed.
    """
    latest = latest_customer_records(customers)
    latest = latest.filter(pc.is_valid(latest["serialNumber"]))
    grouped = latest.group_by("serialNumber").aggregate([(KEY, "count_distinct"), (KEY, "min")])
    single = pc.equal(grouped[f"{KEY}_count_distinct"], 1)
    owners = grouped.filter(single)
    shared = grouped.filter(pc.invert(single))["serialNumber"].combine_chunks()
    return pa.table({"serialNumber": owners["serialNumber"], KEY: owners[f"{KEY}_min"]}), shared


def step_trainer_trusted(
    steps: pa.Table,
    customers: pa.Table,
    curated: pa.Table,
    policy: Policy,
    ownership: tuple[pa.Table, pa.Array] | None = None,
) -> RuleResult:
    """Readings of curated customers' devices (strict: attributable devices, at or after consent).

    `ownership` is `device_owners(customers)` when the caller already has it (a stream of chunks).
    """
    if policy is Policy.UDACITY:
        keep = pc.is_in(steps["serialNumber"], value_set=curated["serialNumber"].combine_chunks())
        kept = steps.filter(keep).select(STEP_TRAINER.schema.names)
        return RuleResult(
            kept, {"readings": steps.num_rows, "not_of_curated_devices": steps.num_rows - kept.num_rows}
        )
    owners, shared_serials = ownership or device_owners(customers)
    curated_keys = normalise_email(curated["email"]).combine_chunks()
    consent_by_key = curated[CONSENT].combine_chunks()
    owner_consent = lookup(owners[KEY], curated_keys, consent_by_key)
    consent = lookup(
        steps["serialNumber"], owners["serialNumber"].combine_chunks(), owner_consent.combine_chunks()
    )
    owned = pc.is_valid(consent)
    after = pc.fill_null(pc.greater_equal(steps["sensorReadingTime"], consent), False)
    unattributable = int(pc.sum(pc.is_in(steps["serialNumber"], value_set=shared_serials)).as_py() or 0)
    n_owned = int(pc.sum(owned).as_py() or 0)
    n_after = int(pc.sum(after).as_py() or 0)
    counts = {
        "readings": steps.num_rows,
        "shared_serials": len(shared_serials),
        "of_unattributable_devices": unattributable,
        "not_of_curated_devices": steps.num_rows - n_owned - unattributable,
        "before_consent": n_owned - n_after,
    }
    return RuleResult(steps.filter(after).select(STEP_TRAINER.schema.names), counts)
