"""Table maintenance: compact small files, cluster large tables, vacuum files no version needs.

The derived reading tables are compacted day by day (one file per day, sorted by time), the shape
the build writes and replaces them in, so a query of one day reads one file. Other tables with a
`layout` in stedi/registry.py naming cluster columns are Z-ordered on them; the rest are compacted.

A vacuum deletes files that no committed version references, including those another writer has
written but not yet committed: callers hold the lakehouse lease (stedi.lock), as the maintenance
flow does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stedi.registry import REGISTRY
from stedi.schemas import MS_PER_DAY
from stedi.storage import Lake

DEFAULT_RETENTION_HOURS = 168  # a week of time travel, Delta's default


@dataclass(frozen=True)
class MaintenanceResult:
    """What one table's maintenance did: counts only."""

    table: str
    files_before: int
    files_after: int
    files_removed_by_vacuum: int


def file_count(lake: Lake, table: str) -> int:
    return len(lake.delta(table).file_uris())


def target_file_bytes(lake: Lake, table: str) -> int:
    """About `Layout.files` files per table, each between 1 MB and `Layout.max_file_bytes`."""
    layout = REGISTRY[table].layout
    sizes = lake.delta(table).get_add_actions(flatten=True).column("size_bytes").to_pylist()
    return int(min(layout.max_file_bytes, max(2**20, sum(sizes) // layout.files)))


def compact_days(lake: Lake, table: str) -> int:
    """Rewrite each day of a derived reading table that has several files into one, sorted by time.

    The build replaces whole days of these tables (one file per day), so maintenance keeps each file
    inside one day: a file spanning days would make the next build recompute all of them. The commit
    marks its actions as moving rows without changing them, so no build reads it as new data.
    Returns the number of days rewritten.
    """
    spec = REGISTRY[table]
    column = str(spec.time_column)
    by_day: dict[int, list[str]] = {}
    spanning = []
    for path, bounds in lake.file_ranges(table, column).items():
        if bounds is None or bounds[0] // MS_PER_DAY != bounds[1] // MS_PER_DAY:
            spanning.append(path)  # no statistics or more than one day: left as it is
        else:
            by_day.setdefault(bounds[0] // MS_PER_DAY, []).append(path)
    crowded = {day: files for day, files in by_day.items() if len(files) > 1}
    if not crowded:
        return 0
    removed: list[str] = []
    added = []
    for files in crowded.values():
        rows = lake.scan(table, files=files).sort_by([(column, "ascending")])
        added.append(lake.write_part(table, rows))
        removed += files
    lake.commit_files(table, added, removed, {"stedi.maintenance": "compact_days"}, data_change=False)
    return len(crowded)


def optimize(lake: Lake, table: str) -> dict[str, Any]:
    """Compact a derived reading table day by day, Z-order another clustered table, else compact."""
    dt = lake.delta(table)
    layout = REGISTRY[table].layout
    if REGISTRY[table].derived and REGISTRY[table].time_column:
        return {"days_compacted": compact_days(lake, table)}
    if layout and layout.cluster_by:
        metrics: dict[str, Any] = dt.optimize.z_order(
            list(layout.cluster_by), target_size=target_file_bytes(lake, table)
        )
    else:
        metrics = dt.optimize.compact()
    return metrics


def vacuum(lake: Lake, table: str, retention_hours: int = DEFAULT_RETENTION_HOURS) -> int:
    """Delete files that no table version within `retention_hours` needs; returns how many."""
    removed = lake.delta(table).vacuum(
        retention_hours=retention_hours, enforce_retention_duration=False, dry_run=False
    )
    return len(removed)


def maintain(lake: Lake, table: str, retention_hours: int = DEFAULT_RETENTION_HOURS) -> MaintenanceResult:
    before = file_count(lake, table)
    optimize(lake, table)
    after = file_count(lake, table)
    removed = vacuum(lake, table, retention_hours)
    return MaintenanceResult(table, before, after, removed)
