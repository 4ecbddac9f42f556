"""Table maintenance: compact small files, cluster large tables, vacuum files no version needs.

Which tables are clustered on which columns is each table's `layout` in stedi/registry.py. Clustering is
Z-order over the table's time column (and its subject column), written in files small enough that
a query of one day or one subject reads only the files whose statistics overlap it.

A vacuum deletes files that no committed version references, including those another writer has
written but not yet committed: callers hold the lakehouse lease (stedi.lock), as the maintenance
flow does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stedi.registry import REGISTRY
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


def optimize(lake: Lake, table: str) -> dict[str, Any]:
    """Z-order a clustered table (rewrites it into time-ordered files), else compact small files."""
    dt = lake.delta(table)
    layout = REGISTRY[table].layout
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
