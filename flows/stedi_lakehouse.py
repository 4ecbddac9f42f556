"""The STEDI lakehouse flow: landing JSON -> landing, trusted and curated Delta tables."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from stedi.config import RunConfig
from stedi.report import RunSummary
from stedi.storage import Landing
from tasks.curated import customer_trusted_to_curated, machine_learning_curated
from tasks.landing import accelerometer_landing, customer_landing, step_trainer_landing
from tasks.privacy import privacy_report
from tasks.trusted import (
    accelerometer_landing_to_trusted,
    customer_landing_to_trusted,
    step_trainer_landing_to_trusted,
)


def run_name() -> str:
    """Policy and landing folder name: says what ran, holds no personal data."""
    params = flow_run.parameters
    landing = str(params.get("landing", "")).rstrip("/").rsplit("/", 1)[-1] or "landing"
    return f"{params.get('policy', 'strict')}-{landing}"


@flow(name="stedi-lakehouse", flow_run_name=run_name, log_prints=False)
def stedi_lakehouse(landing: str, lakehouse: str, policy: str = "strict") -> RunSummary:
    """Ingest the landing feeds, then build the trusted and curated tables, each validated before commit."""
    config = RunConfig.build(landing, lakehouse, policy)
    Landing(config.landing, config.storage_options).check_layout()
    steps = [
        *customer_landing(config),
        *accelerometer_landing(config),
        *step_trainer_landing(config),
        customer_landing_to_trusted(config),
        accelerometer_landing_to_trusted(config),
        customer_trusted_to_curated(config),
        step_trainer_landing_to_trusted(config),
        machine_learning_curated(config),
    ]
    summary = RunSummary.of(config.policy.value, steps)
    create_markdown_artifact(
        summary.to_markdown(), key="stedi-run-report", description="STEDI lakehouse run report"
    )
    get_run_logger().info("run complete: %s", summary.funnel())
    privacy_report(config)
    return summary
