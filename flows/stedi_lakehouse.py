"""The STEDI lakehouse flow: landing JSON -> landing, trusted and curated Delta tables."""

from __future__ import annotations

import uuid

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from stedi import validation_pool
from stedi.aws import describe, storage_options
from stedi.config import RunConfig
from stedi.lock import lakehouse_lock
from stedi.report import RunSummary, StepReport
from stedi.storage import Landing
from tasks.artifacts import publish_validation_artifacts
from tasks.curated import customer_trusted_to_curated, machine_learning_curated
from tasks.landing import accelerometer_landing, customer_landing, step_trainer_landing
from tasks.privacy import privacy_report
from tasks.state import describe_derived_tables, plan_derived_tables
from tasks.trusted import (
    accelerometer_landing_to_trusted,
    customer_landing_to_trusted,
    step_trainer_landing_to_trusted,
)


def run_name() -> str:
    """Policy and landing folder name: says what ran, holds no personal data."""
    params = flow_run.parameters
    landing = str(params.get("landing", "")).rstrip("/").rsplit("/", 1)[-1] or "landing"
    refresh = "-full-refresh" if params.get("full_refresh") else ""
    return f"{params.get('policy', 'strict')}-{landing}{refresh}"


@flow(name="stedi-lakehouse", flow_run_name=run_name, log_prints=False)
def stedi_lakehouse(
    landing: str,
    lakehouse: str,
    policy: str = "strict",
    full_refresh: bool = False,
    aws_credentials: str | None = None,
) -> RunSummary:
    """Ingest new landing files, then rebuild the trusted and curated tables if anything moved.

    Every table is validated before it is committed; the run holds the lakehouse lock throughout.
    `aws_credentials` names a prefect-aws AwsCredentials block for s3:// URIs; without it the AWS_*
    environment of the worker is used.
    """
    validation_pool.start()  # Great Expectations loads in its own process while the ingest begins
    options = storage_options(aws_credentials)
    get_run_logger().info(describe(options))
    config = RunConfig.build(landing, lakehouse, policy, storage_options=options)
    Landing(config.landing, config.storage_options).check_layout()
    run_id = str(flow_run.id or uuid.uuid4())
    with lakehouse_lock(config.lakehouse, config.storage_options, purpose="stedi build"):
        steps: list[StepReport] = [
            *customer_landing(config, run_id, full_refresh),
            *accelerometer_landing(config, run_id, full_refresh),
            *step_trainer_landing(config, run_id, full_refresh),
        ]
        derived = plan_derived_tables(config, full_refresh)
        if derived.stale:
            steps += [
                customer_landing_to_trusted(config, derived),
                accelerometer_landing_to_trusted(config, derived),
                customer_trusted_to_curated(config, derived),
                step_trainer_landing_to_trusted(config, derived),
                machine_learning_curated(config, derived),
            ]
        else:
            steps += describe_derived_tables(config)
    summary = RunSummary.of(config.policy.value, steps, rebuilt=derived.stale)
    create_markdown_artifact(
        summary.to_markdown(), key="stedi-run-report", description="STEDI lakehouse run report"
    )
    publish_validation_artifacts(config, summary)
    get_run_logger().info("run complete: %s", summary.funnel())
    privacy_report(config, summary)
    return summary
