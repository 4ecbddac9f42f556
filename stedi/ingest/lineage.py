"""Build what one run adds to a landing table: lineage columns, duplicates removed, quarantine rows."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa

from stedi.ingest.dedupe import Hashes, record_hashes, to_ids
from stedi.ingest.ledger import FileOutcome, SeenFile
from stedi.ingest.parse import ParsedFile
from stedi.ingest.seen import SeenIds, Sorted, keep_sorted, sort_by_h1
from stedi.schemas import QUARANTINE_SCHEMA, Feed, days_of


@dataclass(frozen=True)
class ParsedLanding:
    """One landing file as read in this run."""

    file: SeenFile
    content_hash: str
    parsed: ParsedFile


@dataclass(frozen=True)
class Batch:
    """The rows to publish (landing schema, duplicates removed), quarantine rows, and per-file outcomes."""

    rows: pa.Table
    quarantine: pa.Table
    outcomes: list[FileOutcome]

    @property
    def deduplicated(self) -> int:
        return sum(o.deduplicated for o in self.outcomes)


def repeat_string(value: str, n: int) -> pa.Array:
    """`value` n times as a string array, built from its buffers (pa.repeat takes ~0.4 s per 1M rows)."""
    data = value.encode("utf-8")
    if n * len(data) >= 2**31:  # beyond 32-bit offsets: let Arrow chunk it
        return pa.repeat(pa.scalar(value, pa.string()), n)
    offsets = np.arange(n + 1, dtype=np.int32) * np.int32(len(data))
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data * n))


def with_lineage(feed: Feed, parsed: ParsedFile, source_file: str, ingested_at: datetime) -> pa.Table:
    """The file's rows stamped with their file and ingest time (`_record_id` is added by `stamp_group`)."""
    rows = parsed.rows
    n = rows.num_rows
    rows = rows.append_column("_source_file", repeat_string(source_file, n))
    stamp = pa.scalar(ingested_at, pa.timestamp("us", tz="UTC"))
    return rows.append_column("_ingested_at", pa.repeat(stamp, n))


@dataclass(frozen=True)
class StampedGroup:
    """A group of parsed files as rows of the landing table (before duplicates are removed).

    Everything here is a pure function of the files, so it is computed where they are parsed (a
    worker); only the duplicate check against the run's seen ids needs the flow process.
    """

    files: list[ParsedLanding]  # without their rows (in `rows`): per-file outcomes and quarantine
    rows: pa.Table  # landing schema, every parsed row in file order
    ids: Sorted  # the rows' record ids sorted by h1
    sizes: list[int]  # rows per file


def stamp_group(feed: Feed, files: Sequence[ParsedLanding], ingested_at: datetime) -> StampedGroup:
    """Rows of `files` in order with lineage, `_record_id` and (reading feeds) `_day`."""
    stamped, hashes, sizes = stamp_rows(feed, files, ingested_at)
    return StampedGroup(bare_files(files), stamped, sort_by_h1(hashes), sizes)


def bare_files(files: Sequence[ParsedLanding]) -> list[ParsedLanding]:
    """The files without their rows (kept: hash, size, quarantined lines)."""
    return [
        dataclasses.replace(f, parsed=dataclasses.replace(f.parsed, rows=f.parsed.rows.schema.empty_table()))
        for f in files
    ]


def stamp_rows(
    feed: Feed, files: Sequence[ParsedLanding], ingested_at: datetime
) -> tuple[pa.Table, Hashes, list[int]]:
    """Rows of `files` in order as landing rows, their record ids' hashes, and rows per file."""
    tables = [with_lineage(feed, f.parsed, f.file.path, ingested_at) for f in files]
    if tables:
        rows = pa.concat_tables(tables)
    else:
        rows = feed.landing_schema.empty_table().drop_columns(["_record_id"])
    hashes = record_hashes(rows, feed.content_columns)
    # Columns in the landing schema's order and types: no cast of the whole group afterwards.
    columns = [rows.column(n) for n in rows.column_names]
    position = rows.schema.get_field_index("_source_file")
    columns.insert(position, pa.chunked_array([to_ids(hashes)]))
    if feed.reading_time:
        columns.append(days_of(rows.column(feed.reading_time)))
    stamped = pa.Table.from_arrays(columns, schema=feed.landing_schema)
    return stamped, hashes, [t.num_rows for t in tables]


def keep_new_rows(feed: Feed, group: StampedGroup, ingested_at: datetime, seen: SeenIds) -> Batch:
    """The group's rows, each record once and only if not in `seen`; the kept ids join `seen`."""
    keep = keep_sorted(seen, group.ids)
    bounds = np.cumsum([0, *group.sizes])
    kept_before = np.concatenate([[0], np.cumsum(keep)])
    kept_per_file = kept_before[bounds[1:]] - kept_before[bounds[:-1]]
    outcomes = [
        FileOutcome(
            feed=feed.name,
            file=f.file,
            content_hash=f.content_hash,
            accepted=int(kept_per_file[i]),
            quarantined=len(f.parsed.quarantined),
            deduplicated=int(group.sizes[i] - kept_per_file[i]),
        )
        for i, f in enumerate(group.files)
    ]
    rows = group.rows
    if not keep.all():  # no copy when nothing is dropped
        # Column by column: Table.filter first aligns the columns' differing chunk layouts (5x slower).
        mask = pa.array(keep)
        rows = pa.Table.from_arrays([c.filter(mask) for c in rows.columns], schema=feed.landing_schema)
    return Batch(rows, quarantine_rows(feed, group.files, ingested_at), outcomes)


def build_group(feed: Feed, files: Sequence[ParsedLanding], ingested_at: datetime, seen: SeenIds) -> Batch:
    """Rows of `files` in order with their `_record_id`, each record once and only if not in `seen`.

    The kept records join `seen`, so later groups of the same run drop them too.
    """
    return keep_new_rows(feed, stamp_group(feed, files, ingested_at), ingested_at, seen)


def quarantine_rows(feed: Feed, files: Sequence[ParsedLanding], ingested_at: datetime) -> pa.Table:
    """One quarantine row per record that could not be loaded."""
    records = [
        {
            "feed": feed.name,
            "source_file": f.file.path,
            "line_number": q.line_number,
            "reason_code": q.reason_code,
            "reason": q.reason,
            "raw_line": q.raw_line,
            "_ingested_at": ingested_at,
        }
        for f in files
        for q in f.parsed.quarantined
    ]
    return pa.Table.from_pylist(records, schema=QUARANTINE_SCHEMA)
