"""Write-audit-publish: validate a table's audit frame, then commit the table as one Delta version."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pyarrow as pa
from prefect import get_run_logger

from stedi import progress
from stedi.policy import Policy
from stedi.report import StepReport
from stedi.storage import Lake
from stedi.stream_validation import StreamValidator
from stedi.validation import validate
from tasks.parallel import map_parts


def publish(
    lake: Lake,
    table: str,
    data: pa.Table,
    audit: pa.Table,
    policy: Policy,
    counts: dict[str, int] | None = None,
    **write: Any,
) -> StepReport:
    """Validate `audit` (the table plus audit columns); on success commit `data`, else raise.

    A blocking failure raises before anything is written, so the previous version stays current.
    `write` goes to `Lake.write` (metadata: the commit's info, predicate: the rows replaced).
    """
    logger = get_run_logger()
    progress.advance(table)  # the clock starts: validation and the write count towards rows/s
    report = validate(table, audit, policy, map_parts=map_parts)
    for outcome in report.warnings:
        logger.warning("%s: %s", table, outcome.describe())
    report.raise_if_blocking()
    version = lake.write(table, data, **write)
    progress.advance(table, data.num_rows)
    progress.finish(table)
    logger.info("%s: %d rows published as Delta version %d", table, data.num_rows, version)
    return StepReport(table, version, data.num_rows, dict(counts or {}), report.outcomes, report.seconds)


Chunk = tuple[pa.Table, pa.Table]  # (rows to write, the same rows plus audit columns)


def publish_stream(
    lake: Lake,
    table: str,
    chunks: Iterable[Chunk],
    schema: pa.Schema,
    policy: Policy,
    counts: Callable[[], dict[str, int]] | None = None,
    audit_schema: pa.Schema | None = None,
    **write: Any,
) -> StepReport:
    """Write-audit-publish for a stream: validate each chunk as it is written, commit once at the end.

    Memory stays at one chunk plus one validation buffer. A blocking failure (found in a buffer,
    or in the end-of-stream checks, which run before the stream ends) aborts the write before its
    commit, so the previous version stays current. `counts` is called after the stream is consumed,
    so the chunks' generator can fill it in as it goes.
    `audit_schema` (default: `schema`) is what an empty stream is validated as.
    """
    logger = get_run_logger()
    validator = StreamValidator(table, policy, map_parts=map_parts)
    report_box: list[Any] = []
    failure: list[BaseException] = []

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            empty = True
            for data, audit in chunks:
                validator.add(audit)
                empty = False
                yield from data.cast(schema).to_batches()
                progress.advance(table, data.num_rows)
            if empty:  # no chunk at all (a feed without files): validate, and create, an empty table
                validator.add((audit_schema or schema).empty_table())
            report = validator.finish()
            report.raise_if_blocking()  # still inside the stream: nothing is committed
            report_box.append(report)
        except BaseException as exc:
            failure.append(exc)  # deltalake wraps it in a DeltaError: keep the original for the caller
            raise

    reader = pa.RecordBatchReader.from_batches(schema, batches())
    progress.advance(table)  # the table's clock starts with its first chunk's reading and parsing
    try:
        version = lake.write(table, reader, **write)
    except Exception:
        if failure:
            raise failure[0] from None
        raise
    progress.finish(table)
    report = report_box[0]
    for outcome in report.warnings:
        logger.warning("%s: %s", table, outcome.describe())
    logger.info("%s: %d rows published as Delta version %d", table, validator.rows, version)
    return StepReport(
        table, version, validator.rows, dict(counts() if counts else {}), report.outcomes, report.seconds
    )
