"""The course's trusted-to-curated jobs."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
from prefect import get_run_logger, task

from stedi.audit import audit_customer_curated
from stedi.batching import chunked
from stedi.config import RunConfig, subject_salt
from stedi.report import StepReport
from stedi.rules.curated import machine_learning_curated as build_machine_learning_curated
from stedi.rules.customers import customer_curated
from stedi.rules.readings import device_owners
from stedi.schemas import ACCELEROMETER, CUSTOMER, ML_SCHEMA
from stedi.storage import Lake
from tasks.append import append_customer_curated, append_machine_learning_curated
from tasks.options import TASK_OPTIONS
from tasks.publish import publish, publish_stream
from tasks.state import DerivedState


def distinct_users(lake: Lake) -> pa.Table:
    """The distinct `user` values of accelerometer_trusted, streamed: memory bounded by the customers."""
    seen = [
        pc.unique(chunk["user"].combine_chunks())
        for chunk in chunked(lake.batches("accelerometer_trusted", ["user"]), USERS)
    ]
    users = pc.unique(pa.concat_arrays(seen))
    return pa.table({"user": users}, schema=USERS)


ML_CHUNK_ROWS = 5_000_000
USERS = pa.schema([ACCELEROMETER.schema.field("user")])


@task(name="customer_trusted_to_curated", **TASK_OPTIONS)
def customer_trusted_to_curated(config: RunConfig, plan: DerivedState) -> StepReport:
    """customer_trusted -> customer_curated: consenting customers with accelerometer data, one row each."""
    if plan.appending:
        return append_customer_curated(config, plan)
    lake = Lake.of(config)
    readings = distinct_users(lake)
    result = customer_curated(lake.read("customer_trusted"), readings, config.policy)
    audit = audit_customer_curated(result.table, readings, config.policy)
    return publish(
        lake, "customer_curated", result.table, audit, config.policy, result.counts, plan.built_from
    )


@task(name="machine_learning_curated", **TASK_OPTIONS)
def machine_learning_curated(config: RunConfig, plan: DerivedState) -> StepReport:
    """step_trainer_trusted + accelerometer_trusted -> machine_learning_curated, pseudonymised."""
    if plan.appending:
        return append_machine_learning_curated(config, plan)
    lake = Lake.of(config)
    salt = subject_salt(config.lakehouse)
    get_run_logger().info("subject_id salt from %s", salt.source)
    steps = lake.read("step_trainer_trusted")
    curated = lake.read("customer_curated")
    ownership = device_owners(lake.read("customer_landing", CUSTOMER.schema.names))  # who owned a device when
    # The join is an equi-join, so it distributes over chunks of the readings: the (smaller) step
    # table stays in memory and the readings stream through, in large chunks because each chunk
    # looks the step table's owners up again.
    source = lake.batches("accelerometer_trusted")  # opened before the write (see tasks/trusted.py)
    rows = [0]

    def chunks() -> Iterator[tuple[pa.Table, pa.Table]]:
        for chunk in chunked(source, ACCELEROMETER.schema, ML_CHUNK_ROWS):
            table = build_machine_learning_curated(
                steps, chunk, curated, config.policy, salt.value, ownership
            ).table
            rows[0] += table.num_rows
            yield table, table

    counts = {"step_readings": steps.num_rows}
    return publish_stream(
        lake, "machine_learning_curated", chunks(), ML_SCHEMA, config.policy,
        lambda: counts | {"rows": rows[0]}, plan.built_from, commit_counts=counts,
    )  # fmt: skip
