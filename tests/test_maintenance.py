"""Maintenance compacts and clusters a table without changing its rows, then vacuums the old files."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from stedi.maintenance import maintain
from stedi.schemas import ML_SCHEMA
from stedi.storage import Lake
from tests.tables import customers


def ml_rows(start: int, n: int) -> pa.Table:
    return pa.table(
        {
            "subject_id": [f"{k % 3:064x}" for k in range(n)],
            "sensorReadingTime": pa.array([start + k for k in range(n)], pa.int64()),
            "distanceFromObject": pa.array([200] * n, pa.int64()),
            "x": [0.0] * n,
            "y": [1.0] * n,
            "z": [-1.0] * n,
        },
        schema=ML_SCHEMA,
    )


def test_small_appends_become_fewer_files_with_the_same_rows(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path), {})
    for k in range(4):
        lake.write("machine_learning_curated", ml_rows(k * 1000, 50), mode="append")
    before = lake.read("machine_learning_curated").sort_by("sensorReadingTime")

    result = maintain(lake, "machine_learning_curated", retention_hours=0)

    assert (result.files_before, result.files_after) == (4, 1)
    assert result.files_removed_by_vacuum == 4
    after = lake.read("machine_learning_curated").sort_by("sensorReadingTime")
    assert after.equals(before)


def test_a_table_without_a_layout_is_compacted(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path), {})
    lake.write("customer_trusted", customers({"email": "a@x.t"}), mode="append")
    lake.write("customer_trusted", customers({"email": "b@x.t"}), mode="append")

    result = maintain(lake, "customer_trusted", retention_hours=0)

    assert (result.files_before, result.files_after, result.files_removed_by_vacuum) == (2, 1, 2)
    assert sorted(lake.read("customer_trusted")["email"].to_pylist()) == ["a@x.t", "b@x.t"]


def test_a_reading_table_is_compacted_day_by_day_as_a_row_preserving_change(tmp_path: Path) -> None:
    """Each day's files become one file inside that day (the unit a build replaces), and the commit
    says no row changed, so the next build has nothing to recompute."""
    import json

    from stedi.schemas import MS_PER_DAY

    lake = Lake(str(tmp_path), {})
    day = 1_655_510_400_000  # 2022-06-18T00:00Z
    for start in (day, day + 1000, day + MS_PER_DAY):  # two files of one day, one of the next
        part = lake.write_part("machine_learning_curated", ml_rows(start, 20))
        lake.commit_files("machine_learning_curated", [part], [], {})
    before = lake.read("machine_learning_curated").sort_by("sensorReadingTime")

    result = maintain(lake, "machine_learning_curated", retention_hours=0)

    assert (result.files_before, result.files_after) == (3, 2)
    spans = lake.file_ranges("machine_learning_curated", "sensorReadingTime").values()
    assert all(s is not None and s[0] // MS_PER_DAY == s[1] // MS_PER_DAY for s in spans)
    assert lake.read("machine_learning_curated").sort_by("sensorReadingTime").equals(before)
    version = lake.version("machine_learning_curated")
    log = tmp_path / "curated" / "machine_learning_curated" / "_delta_log" / f"{version - 2:020d}.json"
    actions = [json.loads(line) for line in log.read_text().splitlines()]
    changes = [a.get("add") or a.get("remove") for a in actions if "add" in a or "remove" in a]
    assert changes and all(c["dataChange"] is False for c in changes)
