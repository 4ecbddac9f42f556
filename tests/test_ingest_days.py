"""The reading feeds' ingest a day at a time: rows split by day, each record once per day."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa

from stedi.ingest.days import first_of_each, split_days
from stedi.ingest.dedupe import from_ids, record_hashes, to_ids
from stedi.schemas import DAY, days_of


def rows(*records: tuple[str, int, str]) -> pa.Table:
    """(user, timestamp, source file) records with their record ids and days."""
    table = pa.table(
        {
            "user": [r[0] for r in records],
            "timestamp": pa.array([r[1] for r in records], pa.int64()),
            "_source_file": [r[2] for r in records],
        }
    )
    ids = to_ids(record_hashes(table, ["user", "timestamp"]))
    table = table.append_column("_record_id", ids)
    return table.append_column(DAY, days_of(table["timestamp"]))


DAY_MS = 86_400_000


def test_split_days_keeps_each_days_rows_in_their_order() -> None:
    table = rows(
        ("a", 2 * DAY_MS + 5, "f1"), ("b", DAY_MS, "f1"), ("c", 2 * DAY_MS, "f2"), ("d", DAY_MS + 9, "f2")
    )
    split = split_days(table)
    assert [d for d, _ in split] == [date(1970, 1, 2), date(1970, 1, 3)]
    assert [t["user"].to_pylist() for _, t in split] == [["b", "d"], ["a", "c"]]
    assert split_days(table.slice(0, 0)) == []


def test_first_of_each_drops_known_and_repeated_records_and_counts_them_per_file() -> None:
    earlier = rows(("a", 1, "old"), ("b", 2, "old"))
    staged = [rows(("a", 1, "f1"), ("c", 3, "f1"), ("c", 3, "f1")), rows(("c", 3, "f2"), ("d", 4, "f2"))]
    found = first_of_each(from_ids(earlier["_record_id"]), staged, "_source_file")
    assert found.rows["user"].to_pylist() == ["c", "d"]
    assert found.rows["_source_file"].to_pylist() == ["f1", "f2"]
    assert found.duplicates == {"f1": 2, "f2": 1}


def test_first_of_each_keeps_everything_new_without_copying() -> None:
    staged = [rows(("a", 1, "f1")), rows(("b", 2, "f2"))]
    found = first_of_each(None, staged, "_source_file")
    assert found.rows.num_rows == 2 and found.duplicates == {}
    none = first_of_each((np.zeros(0, np.uint64), np.zeros(0, np.uint64)), [], "_source_file")
    assert none.rows.num_rows == 0
