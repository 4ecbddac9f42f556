"""The privacy report of a lakehouse: a task for the pipeline flow and a plain function for the CLI."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from stedi.config import RunConfig, subject_salt
from stedi.customer_inputs import customer_quarantine, customer_records
from stedi.policy import Policy
from stedi.privacy.report import PrivacyReport, erasure_stages, funnels, run_funnels
from stedi.privacy.tables import ERASURE_LOG_SCHEMA
from stedi.privacy.tombstones import read_tombstones
from stedi.report import RunSummary
from stedi.schemas import ACCELEROMETER, CUSTOMER, STEP_TRAINER, Feed
from stedi.storage import Lake
from tasks.options import TASK_OPTIONS

ERASURE_LOG = "erasure_log"


def _landing(lake: Lake, feed: Feed) -> pa.Table:
    table = feed.landing_table
    return lake.read(table, feed.schema.names) if lake.exists(table) else feed.schema.empty_table()


def last_ingest(lake: Lake) -> datetime | None:
    """When the pipeline last ingested customer records (the newest `_ingested_at`)."""
    if not lake.exists("customer_landing"):
        return None
    value = pc.max(lake.read("customer_landing", ["_ingested_at"])["_ingested_at"]).as_py()
    return value if isinstance(value, datetime) else None


def build_privacy_report(
    lake: Lake, policy: Policy, since: datetime | None, summary: RunSummary | None = None
) -> PrivacyReport:
    """The funnels under `policy` and the erasures after `since`.

    With a run's `summary` the reading funnels come from its reports (the rules' counts) and only the
    customer records are read; without one (the CLI) all three landing tables are read and the rules run.
    """
    if summary is not None:
        customers, accel, steps = run_funnels(_landing(lake, CUSTOMER), summary)
    else:
        records = customer_records(lake) if lake.exists("customer_landing") else _landing(lake, CUSTOMER)
        customers, accel, steps = funnels(
            records,
            _landing(lake, ACCELEROMETER),
            _landing(lake, STEP_TRAINER),
            policy,
            customer_quarantine(lake),
        )
    log = lake.read(ERASURE_LOG) if lake.exists(ERASURE_LOG) else ERASURE_LOG_SCHEMA.empty_table()
    tombstones = read_tombstones(lake)
    stale = tombstones.stale(subject_salt(lake.root).value) if len(tombstones) else 0
    erasures = erasure_stages(log, len(tombstones), stale, since)
    return PrivacyReport(policy.value, customers, accel, steps, erasures, since)


def previous_pipeline_run() -> datetime | None:
    """Start of the last completed run of the lakehouse flow (None for the first run)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["stedi-lakehouse"])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.COMPLETED]))
            ),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )
    return runs[0].start_time if runs and runs[0].start_time else None


@task(name="privacy_report", **TASK_OPTIONS)
def privacy_report(config: RunConfig, summary: RunSummary | None = None) -> PrivacyReport:
    """Publish the run's privacy report (counts only) as the `stedi-privacy-report` artifact."""
    report = build_privacy_report(Lake.of(config), config.policy, previous_pipeline_run(), summary)
    create_markdown_artifact(
        report.to_markdown(), key="stedi-privacy-report", description="STEDI privacy report (counts only)"
    )
    get_run_logger().info("%s", report.to_text())
    return report
