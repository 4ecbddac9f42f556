"""Lineage columns and quarantine rows for parsed landing files."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pyarrow as pa

from stedi.ingest.parse import ParsedFile
from stedi.schemas import QUARANTINE_SCHEMA, Feed


def with_lineage(feed: Feed, parsed: ParsedFile, source_file: str, ingested_at: datetime) -> pa.Table:
    """The file's rows in the landing table's schema, stamped with their file and ingest time."""
    rows = parsed.rows
    n = rows.num_rows
    rows = rows.append_column("_source_file", pa.array([source_file] * n, pa.string()))
    rows = rows.append_column("_ingested_at", pa.array([ingested_at] * n, pa.timestamp("us", tz="UTC")))
    return rows.cast(feed.landing_schema)


def quarantine_rows(feed: Feed, files: Sequence[tuple[str, ParsedFile]], ingested_at: datetime) -> pa.Table:
    """One quarantine row per record that could not be loaded."""
    records = [
        {
            "feed": feed.name,
            "source_file": name,
            "line_number": q.line_number,
            "reason_code": q.reason_code,
            "reason": q.reason,
            "raw_line": q.raw_line,
            "_ingested_at": ingested_at,
        }
        for name, parsed in files
        for q in parsed.quarantined
    ]
    return pa.Table.from_pylist(records, schema=QUARANTINE_SCHEMA)
