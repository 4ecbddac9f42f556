"""What a person sees in the Prefect UI besides the run report: every expectation's result and Data Docs.

Both artifacts hold counts and rule descriptions only. The run's results go into the GX stores under
the lakehouse and the Data Docs site gains the run's pages (stedi.data_docs.record_run), rendered in
the validation process when it runs; the link artifact opens this run's page. A run stopped by a
blocking expectation is recorded too (`recorded_when_stopped`), before its error goes on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact, create_table_artifact
from prefect.runtime import flow_run

from stedi import validation_pool
from stedi.config import RunConfig
from stedi.data_docs import DocsRun, record_run, run_results
from stedi.errors import ValidationFailedError
from stedi.gx_stores import site_url
from stedi.report import RunSummary, StepReport
from tasks.options import TASK_OPTIONS


def expectation_rows(summary: RunSummary) -> list[dict[str, Any]]:
    """One row per expectation evaluated in the run, in table order."""
    return [
        {
            "table": o.table,
            "expectation": o.expectation,
            "column": o.column,
            "result": "passed" if o.success else "FAILED",
            "unexpected rows": o.unexpected or 0,
            "severity": o.severity,
            "rule": o.why,
        }
        for step in summary.steps
        for o in step.validation
    ]


@task(name="validation_artifacts", **TASK_OPTIONS)
def publish_validation_artifacts(
    config: RunConfig, summary: RunSummary, stopped_at: str | None = None
) -> str | None:
    """Publish the expectations table artifact, record the run in Data Docs and link to its page.

    `stopped_at` names the table whose blocking expectation stopped the run (see `record_run`).
    """
    logger = get_run_logger()
    rows = expectation_rows(summary)
    failed = sum(r["result"] != "passed" for r in rows)
    create_table_artifact(
        rows,
        key="stedi-expectations",
        description=f"Great Expectations results: {len(rows)} checks, {failed} not met (counts only)",
    )
    run = flow_run.get_name() or "local-run"
    try:
        docs = build_data_docs(config, summary, run, stopped_at)
    except Exception as exc:  # Data Docs are a view: a failure to build them must not fail a published run.
        logger.warning("Data Docs not built: %s: %s", type(exc).__name__, exc)
        return None
    root = site_url(config.lakehouse, config.storage_options)
    link = f"{root}/{quote(run_page(docs, summary, stopped_at))}"
    pages = "".join(f"\n- [{table}]({root}/{quote(page)})" for table, page in docs.pages.items())
    status = f" (failed: stopped at {stopped_at})" if stopped_at else ""
    create_link_artifact(
        link,
        link_text="Great Expectations Data Docs",
        key="stedi-data-docs",
        description=f"Data Docs of run {run}{status}: [every run]({root}/index.html){pages}",
    )
    logger.info("Data Docs: %s (rendered in %.2f s)", link, docs.seconds)
    return link


def build_data_docs(
    config: RunConfig, summary: RunSummary, run_name: str, stopped_at: str | None = None
) -> DocsRun:
    """Record the run's results in the GX stores under the lakehouse and render its pages."""
    results = run_results(summary)
    if not results:  # nothing was validated (a run with nothing new): the site stays as it is
        return DocsRun("index.html", {}, 0.0)
    args = (config.lakehouse, dict(config.storage_options), run_name, results, summary.policy)
    extra = (None, stopped_at)  # record_run's run_time (now) and stopped_at
    # Rendering imports GX: in the validation process when it runs, which has it imported.
    future = validation_pool.submit(record_run, *args, *extra)
    return future.result() if future is not None else record_run(*args, *extra)


def run_page(docs: DocsRun, summary: RunSummary, stopped_at: str | None = None) -> str:
    """The run's page to open first: the table that stopped the run, else the first table with an
    unmet expectation, else the first table."""
    failing = [s.table for s in summary.steps if any(not o.success for o in s.validation)]
    for table in [*([stopped_at] if stopped_at else []), *failing, *docs.pages]:
        if table in docs.pages:
            return docs.pages[table]
    return docs.index


def stopped_step(failure: ValidationFailedError) -> StepReport:
    """The table a blocking expectation stopped, as a step that published nothing (no version)."""
    report = failure.report
    if report is None:  # raised without a report: the run is still recorded as failed
        return StepReport(failure.table, None, 0)
    return StepReport(
        failure.table, None, report.rows, validation=report.outcomes, validation_s=report.seconds
    )


@contextmanager
def recorded_when_stopped(config: RunConfig, steps: list[StepReport]) -> Iterator[None]:
    """Record a run that a blocking expectation stops in Data Docs, then let the same error go on.

    `steps` is the list the run appends each completed step to; the record shows those steps and
    the failing table's checks (counts and rule descriptions). Recording never hides the failure:
    if it fails itself, a warning says so and the original error is raised all the same.
    """
    try:
        yield
    except ValidationFailedError as failure:
        try:
            summary = RunSummary.of(config.policy.value, [*steps, stopped_step(failure)])
            publish_validation_artifacts(config, summary, stopped_at=failure.table)
        except Exception as exc:
            get_run_logger().warning(
                "The failed run was not recorded in Data Docs (%s); its validation error follows",
                type(exc).__name__,
            )
        raise
