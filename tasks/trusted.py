"""The course's landing-to-trusted jobs.

A full build streams the reading tables: only the small customer tables are held in memory, the
landing readings are read in chunks, each chunk goes through the row-wise rule and its validation,
and the kept rows stream into one commit (memory bounded by a chunk, also at 100M readings).
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
from prefect import task

from stedi.audit import audit_accelerometer_trusted, audit_customer_trusted, audit_step_trainer_trusted
from stedi.batching import chunked
from stedi.config import RunConfig
from stedi.customer_inputs import customer_quarantine, customer_records
from stedi.report import StepReport
from stedi.rules.customers import customer_trusted
from stedi.rules.increments import add_counts
from stedi.rules.readings import (
    accelerometer_decision,
    accelerometer_trusted,
    device_owners,
    step_trainer_trusted,
)
from stedi.schemas import ACCELEROMETER, CUSTOMER, STEP_TRAINER
from stedi.storage import Lake
from tasks.append import append_accelerometer_trusted, append_customer_trusted, append_step_trainer_trusted
from tasks.options import TASK_OPTIONS
from tasks.publish import publish, publish_stream
from tasks.state import DerivedState


@task(name="customer_landing_to_trusted", **TASK_OPTIONS)
def customer_landing_to_trusted(config: RunConfig, plan: DerivedState) -> StepReport:
    """customer_landing -> customer_trusted: customers who consented to research."""
    if plan.appending:
        return append_customer_trusted(config, plan)
    lake = Lake.of(config)
    result = customer_trusted(customer_records(lake), config.policy, customer_quarantine(lake))
    audit = audit_customer_trusted(result.table, config.policy)
    return publish(
        lake, "customer_trusted", result.table, audit, config.policy, result.counts, plan.built_from
    )


@task(name="accelerometer_landing_to_trusted", **TASK_OPTIONS)
def accelerometer_landing_to_trusted(config: RunConfig, plan: DerivedState) -> StepReport:
    """accelerometer_landing -> accelerometer_trusted: readings of consenting owners."""
    if plan.appending:
        return append_accelerometer_trusted(config, plan)
    lake = Lake.of(config)
    customers = lake.read("customer_trusted")
    policy = config.policy
    # A counting pass over the two key columns first: the commit must carry the counts, and its
    # metadata is fixed before the stream of rows starts.
    counts = add_counts(
        accelerometer_decision(chunk, customers, policy)[1]
        for chunk in chunked(
            lake.batches("accelerometer_landing", ["user", "timestamp"]),
            pa.schema([ACCELEROMETER.schema.field("user"), ACCELEROMETER.schema.field("timestamp")]),
        )
    )

    # Opened here, not in the generator: the generator runs inside the Delta write, where opening
    # another Delta table would start a second deltalake runtime and panic.
    source = lake.batches("accelerometer_landing", ACCELEROMETER.schema.names)

    def chunks() -> Iterator[tuple[pa.Table, pa.Table]]:
        for chunk in chunked(source, ACCELEROMETER.schema):
            kept = accelerometer_trusted(chunk, customers, policy).table
            yield kept, audit_accelerometer_trusted(kept, customers, policy)

    return publish_stream(
        lake, "accelerometer_trusted", chunks(), ACCELEROMETER.schema, policy, lambda: counts,
        plan.built_from, commit_counts=counts,
    )  # fmt: skip


@task(name="step_trainer_landing_to_trusted", **TASK_OPTIONS)
def step_trainer_landing_to_trusted(config: RunConfig, plan: DerivedState) -> StepReport:
    """step_trainer_landing -> step_trainer_trusted: readings of curated customers' devices."""
    if plan.appending:
        return append_step_trainer_trusted(config, plan)
    lake = Lake.of(config)
    curated = lake.read("customer_curated")
    customers = lake.read("customer_landing", CUSTOMER.schema.names)
    policy = config.policy
    names = STEP_TRAINER.schema.names
    owners = device_owners(customers)  # once, not per chunk: it sorts every customer record
    counts = add_counts(
        step_trainer_trusted(chunk, customers, curated, policy, owners).counts
        for chunk in chunked(lake.batches("step_trainer_landing", names), STEP_TRAINER.schema)
    )

    source = lake.batches("step_trainer_landing", names)  # opened before the write, as above

    def chunks() -> Iterator[tuple[pa.Table, pa.Table]]:
        for chunk in chunked(source, STEP_TRAINER.schema):
            kept = step_trainer_trusted(chunk, customers, curated, policy, owners).table
            yield kept, audit_step_trainer_trusted(kept, curated, policy)

    return publish_stream(
        lake, "step_trainer_trusted", chunks(), STEP_TRAINER.schema, policy, lambda: counts,
        plan.built_from, commit_counts=counts,
    )  # fmt: skip
