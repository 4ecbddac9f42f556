"""The ingest log: which landing files were loaded, and what a run must read next."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

INGEST_LOG_SCHEMA = pa.schema(
    [
        pa.field("feed", pa.string(), nullable=False),
        pa.field("path", pa.string(), nullable=False),
        pa.field("size", pa.int64(), nullable=False),
        pa.field("mtime_ns", pa.int64(), nullable=False),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("rows_accepted", pa.int64(), nullable=False),
        pa.field("rows_quarantined", pa.int64(), nullable=False),
        pa.field("rows_deduplicated", pa.int64(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("ingested_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


@dataclass(frozen=True)
class SeenFile:
    """A landing file as listed now: path relative to the landing root, size and modification time."""

    path: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Logged:
    """The latest ingest-log entry of a path."""

    path: str
    size: int
    mtime_ns: int
    content_hash: str


@dataclass(frozen=True)
class IngestPlan:
    """New files, files whose size or time changed (to hash), unchanged ones, and vanished ones."""

    new: list[SeenFile] = field(default_factory=list)
    suspect: list[SeenFile] = field(default_factory=list)
    unchanged: list[SeenFile] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def latest_entries(log: pa.Table, feed: str) -> dict[str, Logged]:
    """The newest log entry per path of `feed` (entries are appended, never rewritten)."""
    rows = log.filter(pc.equal(log["feed"], feed)).sort_by([("ingested_at", "ascending")]).to_pylist()
    return {r["path"]: Logged(r["path"], r["size"], r["mtime_ns"], r["content_hash"]) for r in rows}


def plan_ingest(files: Sequence[SeenFile], logged: dict[str, Logged]) -> IngestPlan:
    """Decide what to read: size and modification time first, the content hash only when they moved."""
    plan = IngestPlan()
    for f in files:
        entry = logged.get(f.path)
        if entry is None:
            plan.new.append(f)
        elif entry.size == f.size and entry.mtime_ns == f.mtime_ns:
            plan.unchanged.append(f)
        else:
            plan.suspect.append(f)
    present = {f.path for f in files}
    plan.missing.extend(sorted(p for p in logged if p not in present))
    return plan


@dataclass(frozen=True)
class FileOutcome:
    """What one file produced in this run."""

    feed: str
    file: SeenFile
    content_hash: str
    accepted: int
    quarantined: int
    deduplicated: int


def log_rows(outcomes: Iterable[FileOutcome], run_id: str, at: datetime) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "feed": o.feed,
                "path": o.file.path,
                "size": o.file.size,
                "mtime_ns": o.file.mtime_ns,
                "content_hash": o.content_hash,
                "rows_accepted": o.accepted,
                "rows_quarantined": o.quarantined,
                "rows_deduplicated": o.deduplicated,
                "run_id": run_id,
                "ingested_at": at,
            }
            for o in outcomes
        ],
        schema=INGEST_LOG_SCHEMA,
    )
