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
    **write: Any,
) -> StepReport:
    """Validate `audit` (the table plus audit columns); on success commit `data`, else raise.

    A blocking failure raises before anything is written, so the previous version stays current.
    """
    logger = get_run_logger()
    report = validate(table, audit, policy, map_parts=map_parts)
    for outcome in report.warnings:
        logger.warning("%s: %s", table, outcome.describe())
    report.raise_if_blocking()
    if built_from is not None:
        write["metadata"] = commit_metadata(built_from, counts or {})
    version = lake.write(table, data, **write)
    logger.info("%s: %d rows published as Delta version %d", table, data.num_rows, version)
    return StepReport(table, version, data.num_rows, dict(counts or {}), report.outcomes)
