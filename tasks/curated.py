"""The course's trusted-to-curated jobs."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from prefect import get_run_logger, task

from stedi.audit import audit_customer_curated
from stedi.batching import chunked
from stedi.config import RunConfig, subject_salt
from stedi.report import StepReport
from stedi.rules.curated import machine_learning_curated as build_machine_learning_curated
from stedi.rules.customers import customer_curated
from stedi.storage import Lake
from tasks.append import append_customer_curated, append_machine_learning_curated
from tasks.options import TASK_OPTIONS
from tasks.publish import publish
from tasks.state import DerivedState


def distinct_users(lake: Lake) -> pa.Table:
    """The distinct `user` values of accelerometer_trusted, streamed: memory bounded by the customers."""
    seen = [
        pc.unique(chunk["user"].combine_chunks())
        for chunk in chunked(lake.batches("accelerometer_trusted", ["user"]))
    ]
    users = pc.unique(pa.concat_arrays(seen)) if seen else pa.array([], pa.string())
    return pa.table({"user": users})


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
    result = build_machine_learning_curated(
        lake.read("step_trainer_trusted"),
        lake.read("accelerometer_trusted"),
        lake.read("customer_curated"),
        config.policy,
        salt.value,
    )
    return publish(
        lake,
        "machine_learning_curated",
        result.table,
        result.table,
        config.policy,
        result.counts,
        plan.built_from,
    )
