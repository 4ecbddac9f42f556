"""Write-audit-publish: validate a table's audit frame, then commit the table as one Delta version."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from prefect import get_run_logger

from stedi.policy import Policy
from stedi.report import StepReport
from stedi.state import commit_metadata
from stedi.storage import Lake
from stedi.validation import validate
from tasks.parallel import map_parts


def publish(
    lake: Lake,
    table: str,
    data: pa.Table,
    audit: pa.Table,
    policy: Policy,
    counts: dict[str, int] | None = None,
    built_from: str | None = None,
    base: str | None = None,
    **write: Any,
) -> StepReport:
    """Validate `audit` (the table plus audit columns); on success commit `data`, else raise.

    A blocking failure raises before anything is written, so the previous version stays current.
    `base` marks an append: the build it extends goes into the commit, and the report gives the
    table's total rows rather than the rows appended.
    """
    logger = get_run_logger()
    report = validate(table, audit, policy, map_parts=map_parts)
    for outcome in report.warnings:
        logger.warning("%s: %s", table, outcome.describe())
    report.raise_if_blocking()
    if built_from is not None:
        write["metadata"] = commit_metadata(built_from, counts or {}, base)
    if base is not None:
        write["mode"] = "append"
    version = lake.write(table, data, **write)
    verb = "appended" if base is not None else "published"
    logger.info("%s: %d rows %s as Delta version %d", table, data.num_rows, verb, version)
    rows = lake.count(table) if base is not None else data.num_rows
    return StepReport(table, version, rows, dict(counts or {}), report.outcomes)
