"""machine_learning_curated: step readings joined with the same customer's accelerometer readings."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from stedi.policy import Policy
from stedi.rules import RuleResult
from stedi.rules.keys import lookup, normalise_email
from stedi.rules.ownership import Ownership, device_owners, owner_at
from stedi.schemas import ML_SCHEMA
from stedi.subject import subject_ids

OWNER = "_owner"


def machine_learning_curated(
    steps: pa.Table,
    readings: pa.Table,
    curated: pa.Table,
    policy: Policy,
    salt: bytes,
    ownership: Ownership | None = None,
    subjects: pa.Array | None = None,
) -> RuleResult:
    """Each trusted step reading with the trusted accelerometer readings of the same time.

    `strict` also requires the same customer: the step reading's owner at its time (see
    stedi.rules.ownership) is the accelerometer reading's user; every identifier is replaced by
    `subject_id`. Pass `ownership=device_owners(customer records)` (every record, not just the
    curated ones): without it only the curated records' current devices are known, and a reading
    from before a device changed hands would go to its current owner. `udacity` joins on time alone,
    as the course did. `subjects`: `curated_subjects(curated, salt)` (strict) when the caller keeps
    it between calls (it hashes every curated customer).
    """
    if policy is Policy.UDACITY:
        joined = steps.select(["sensorReadingTime", "distanceFromObject"]).join(
            readings.select(["user", "timestamp", "x", "y", "z"]),
            keys="sensorReadingTime",
            right_keys="timestamp",
            join_type="inner",
        )
        subjects = subject_ids(joined["user"], salt)
        table = joined.append_column("subject_id", subjects)
    else:
        # Owners become small integers, so the join compares two integer columns per row.
        keys = curated_keys(curated)
        owner_ids = pa.array(range(len(keys)), pa.int32())
        owner, _ = owner_at(
            steps["serialNumber"], steps["sensorReadingTime"], ownership or device_owners(curated)
        )
        step_owner = lookup(owner, keys, owner_ids)
        read_owner = lookup(readings["user"], keys, owner_ids, normalise=True)
        left = pa.table(
            {
                OWNER: step_owner,
                "sensorReadingTime": steps["sensorReadingTime"],
                "distanceFromObject": steps["distanceFromObject"],
            }
        ).filter(pc.is_valid(step_owner))
        right = pa.table(
            {
                OWNER: read_owner,
                "timestamp": readings["timestamp"],
                "x": readings["x"],
                "y": readings["y"],
                "z": readings["z"],
            }
        ).filter(pc.is_valid(read_owner))
        joined = left.join(
            right, keys=[OWNER, "sensorReadingTime"], right_keys=[OWNER, "timestamp"], join_type="inner"
        )
        ids = subjects if subjects is not None else curated_subjects(curated, salt)
        table = joined.append_column("subject_id", ids.take(joined[OWNER]))
    table = table.select(ML_SCHEMA.names).cast(ML_SCHEMA)
    return RuleResult(table, {"step_readings": steps.num_rows, "rows": table.num_rows})


def curated_keys(curated: pa.Table) -> pa.Array:
    """The customer keys of customer_curated rows, in row order."""
    return normalise_email(curated["email"]).combine_chunks()


def curated_subjects(curated: pa.Table, salt: bytes) -> pa.Array:
    """Subject ids of customer_curated rows in row order (of their normalised emails)."""
    return subject_ids(curated_keys(curated), salt)
