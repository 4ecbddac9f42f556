"""The STEDI lakehouse flow: landing JSON -> landing, trusted and curated Delta tables."""

from __future__ import annotations

import os
import uuid
from datetime import date
from typing import Any

from prefect import flow, get_run_logger, unmapped
from prefect.artifacts import create_markdown_artifact
from prefect.futures import as_completed
from prefect.runtime import flow_run
from prefect.task_runners import ProcessPoolTaskRunner
from prefect_aws import AwsCredentials

from stedi import progress, validation_pool
from stedi.aws import describe, storage_options
from stedi.config import RunConfig
from stedi.lock import lakehouse_lock
from stedi.process import die_with_parent
from stedi.registry import REGISTRY
from stedi.report import RunSummary, StepReport
from stedi.storage import Landing
from tasks.artifacts import publish_validation_artifacts, recorded_when_stopped
from tasks.customers import build_whole
from tasks.days import UnitResult, build_days, commit_table, describe_derived_tables
from tasks.landing import landing_feed
from tasks.plan import BuildPlan, DayWork, dirty_days, plan_build
from tasks.privacy import privacy_report

WORKERS = os.cpu_count() or 1


def local_runner() -> Any:
    """The default task runner: a process per core for the units of days.

    The workers end with the process that started them, also when it is killed: a killed run
    leaves no worker holding its files or its output pipes.
    """
    return ProcessPoolTaskRunner(max_workers=WORKERS, initializer=start_worker, initargs=(os.getpid(),))


def start_worker(parent: int) -> None:
    """A pool worker: ends with the flow's process; Great Expectations, once imported, skips what
    our suites never use (one second of CPU and some memory per worker)."""
    from stedi.gx_imports import skip_unused

    die_with_parent(parent)
    skip_unused()


def run_name() -> str:
    """Policy and landing folder name: says what ran, holds no personal data."""
    params = flow_run.parameters
    landing = str(params.get("landing", "")).rstrip("/").rsplit("/", 1)[-1] or "landing"
    refresh = "-full-refresh" if params.get("full_refresh") else ""
    return f"{params.get('policy', 'strict')}-{landing}{refresh}"


def build_table(config: RunConfig, plan: BuildPlan, work: DayWork) -> tuple[StepReport, list[UnitResult]]:
    """Run a table's units (on the task runner's workers when there are several) and commit them once."""
    progress.advance(work.table)
    results: list[UnitResult] = []
    if len(work.units) > 1:
        for future in as_completed(build_days.map(unmapped(config), work.units)):
            results.append(future.result())
            progress.advance(work.table, results[-1].rows)
    else:
        results = [build_days(config, u) for u in work.units]
    report = commit_table(
        config, work.table, plan.record, plan.full, work.days, work.removed, results, work.appended
    )
    progress.finish(work.table)
    return report, results


def build_derived_tables(config: RunConfig, plan: BuildPlan, workers: int, reports: list[StepReport]) -> None:
    """Every derived table in build order (each appended to `reports` as it completes): small tables
    whole, reading tables by their dirty days.

    A reading table recomputes the days its landing input changed, the days its derived inputs
    recomputed, and the days holding readings of customers whose decisions changed upstream.
    """
    # Per whole table: keys of the customers it or its inputs decide anew (None: every customer).
    changed: dict[str, list[str] | None] = {}
    recomputed: dict[str, list[date]] = {}  # per reading table: the days this build replaced
    appended: dict[str, dict[date, list[str]]] = {}  # per reading table: days it added files to
    for table in REGISTRY.build_order():
        spec = REGISTRY[table]
        upstream = [changed[i] for i in spec.inputs if i in changed]
        keys = None if None in upstream else sorted({k for u in upstream for k in u or []})
        if spec.time_column is None:
            decided = build_whole(config, plan, table)
            reports.append(decided.report)
            changed[table] = (
                None if keys is None or decided.changed is None else sorted({*keys, *decided.changed})
            )
            continue
        also = sorted({d for i in spec.inputs for d in recomputed.get(i, [])})
        grown = {i: appended[i] for i in spec.inputs if appended.get(i)}
        work = dirty_days(config, plan, table, keys, also, workers, grown)
        report, results = build_table(config, plan, work)
        reports.append(report)
        recomputed[table] = work.days
        added = {d.isoformat() for d in work.appended}
        appended[table] = {
            date.fromisoformat(d): [path] for r in results for d, path in r.written.items() if d in added
        }


@flow(name="stedi-lakehouse", flow_run_name=run_name, log_prints=False, task_runner=local_runner())
def stedi_lakehouse(
    landing: str,
    lakehouse: str,
    policy: str = "strict",
    full_refresh: bool = False,
    aws_credentials: AwsCredentials | str | None = None,
    drop_vanished: bool = False,
) -> RunSummary:
    """Ingest new landing files, then recompute the days of the derived tables that changed.

    Every table is validated before it is committed; the run holds the lakehouse lock throughout.
    A full refresh keeps the rows of landing files that have vanished since they were loaded
    unless `drop_vanished`. `aws_credentials` is a prefect-aws AwsCredentials block for s3:// URIs
    (picked in the UI, or its name); without it the AWS_* environment of the worker is used.
    """
    validation_pool.start()  # Great Expectations loads in its own process while the ingest begins
    options = storage_options(aws_credentials)
    get_run_logger().info(describe(options))
    config = RunConfig.build(landing, lakehouse, policy, storage_options=options)
    landing_root = Landing(config.landing, config.storage_options)
    landing_root.check_layout()
    run_id = str(flow_run.id or uuid.uuid4())
    workers = WORKERS
    steps: list[StepReport] = []  # also read when a blocking expectation stops the run
    lock = lakehouse_lock(config.lakehouse, config.storage_options, purpose="stedi build")
    with lock, recorded_when_stopped(config, steps):
        for feed in REGISTRY.feeds:
            steps += landing_feed(config, feed.name, run_id, full_refresh, drop_vanished)
        plan = plan_build(config, full_refresh)
        if plan.up_to_date:
            steps += describe_derived_tables(config)
        else:
            build_derived_tables(config, plan, workers, steps)
    summary = RunSummary.of(config.policy.value, steps, rebuilt=not plan.up_to_date)
    create_markdown_artifact(
        summary.to_markdown(), key="stedi-run-report", description="STEDI lakehouse run report"
    )
    publish_validation_artifacts(config, summary)
    get_run_logger().info("run complete: %s", summary.funnel())
    privacy_report(config, summary)
    return summary
