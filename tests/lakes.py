"""Compare lakehouses by content: every table's rows, lineage times left out, in a stable order."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from stedi.registry import REGISTRY
from stedi.storage import Lake

Tables = dict[str, list[tuple[Any, ...]]]
VOLATILE = {"_ingested_at", "ingested_at", "run_id", "mtime_ns"}
TABLES = [t for t in REGISTRY.data_tables if t != "ingest_log"]


def rows(lakehouse: Path, table: str) -> list[tuple[Any, ...]]:
    data = Lake(str(lakehouse), {}).read(table)
    keep = [c for c in data.column_names if c not in VOLATILE and c != "_source_file"]
    return sorted((tuple(r[c] for c in keep) for r in data.select(keep).to_pylist()), key=repr)


def content(lakehouse: Path) -> Tables:
    """Every table except the ingest log, as sorted rows; `_source_file` left out because which copy
    of an exact duplicate survives depends on the order files arrived in."""
    return {t: rows(lakehouse, t) for t in TABLES}


def versions(lakehouse: Path) -> dict[str, int | None]:
    lake = Lake(str(lakehouse), {})
    return {t: lake.version(t) for t in REGISTRY.data_tables}


def copy_files(files: list[Path], source: Path, landing: Path) -> None:
    for f in files:
        target = landing / f.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, target)


def empty_landing(landing: Path) -> Path:
    for feed in ("customer", "accelerometer", "step_trainer"):
        (landing / feed / "landing").mkdir(parents=True, exist_ok=True)
    return landing
