"""The course's landing-to-trusted jobs."""

from __future__ import annotations

from prefect import task

from stedi.audit import audit_accelerometer_trusted, audit_customer_trusted, audit_step_trainer_trusted
from stedi.config import RunConfig
from stedi.report import StepReport
from stedi.rules.customers import customer_trusted
from stedi.rules.readings import accelerometer_trusted, step_trainer_trusted
from stedi.schemas import ACCELEROMETER, CUSTOMER, STEP_TRAINER
from stedi.storage import Lake
from tasks.append import append_accelerometer_trusted, append_customer_trusted, append_step_trainer_trusted
from tasks.options import TASK_OPTIONS
from tasks.publish import publish
from tasks.state import DerivedState


@task(name="customer_landing_to_trusted", **TASK_OPTIONS)
def customer_landing_to_trusted(config: RunConfig, plan: DerivedState) -> StepReport:
    """customer_landing -> customer_trusted: customers who consented to research."""
    if plan.appending:
        return append_customer_trusted(config, plan)
    lake = Lake.of(config)
    result = customer_trusted(lake.read("customer_landing", CUSTOMER.schema.names), config.policy)
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
    result = accelerometer_trusted(
        lake.read("accelerometer_landing", ACCELEROMETER.schema.names), customers, config.policy
    )
    audit = audit_accelerometer_trusted(result.table, customers, config.policy)
    return publish(
        lake, "accelerometer_trusted", result.table, audit, config.policy, result.counts, plan.built_from
    )


@task(name="step_trainer_landing_to_trusted", **TASK_OPTIONS)
def step_trainer_landing_to_trusted(config: RunConfig, plan: DerivedState) -> StepReport:
    """step_trainer_landing -> step_trainer_trusted: readings of curated customers' devices."""
    if plan.appending:
        return append_step_trainer_trusted(config, plan)
    lake = Lake.of(config)
    curated = lake.read("customer_curated")
    result = step_trainer_trusted(
        lake.read("step_trainer_landing", STEP_TRAINER.schema.names),
        lake.read("customer_landing", CUSTOMER.schema.names),
        curated,
        config.policy,
    )
    audit = audit_step_trainer_trusted(result.table, curated, config.policy)
    return publish(
        lake, "step_trainer_trusted", result.table, audit, config.policy, result.counts, plan.built_from
    )
