"""A reading feed's new rows a day at a time: split by day, then each record once per day.

A record id hashes every content column, the reading time included, so two copies of a record
always fall on the same day: removing duplicates day by day removes every duplicate of the feed,
with memory bounded by a day instead of a lake-wide set of ids.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from stedi.ingest.dedupe import Hashes, from_ids
from stedi.ingest.seen import SeenIds, keep_new
from stedi.schemas import DAY


def split_days(rows: pa.Table) -> list[tuple[date, pa.Table]]:
    """`rows` grouped by their `_day`, days in order, rows of a day in their original order."""
    if rows.num_rows == 0:
        return []
    order = pc.sort_indices(rows.column(DAY), sort_keys=[(DAY, "ascending")])  # a stable sort
    days = rows.column(DAY).take(order).combine_chunks()
    runs = pc.run_end_encode(days)
    ends = runs.run_ends.to_numpy()
    starts = np.concatenate([[0], ends[:-1]])
    values = runs.values.to_pylist()
    ordered = rows.take(order)
    return [
        (values[i], ordered.slice(int(s), int(e - s)))
        for i, (s, e) in enumerate(zip(starts, ends, strict=True))
    ]


@dataclass(frozen=True)
class DayRows:
    """One day's rows to write, and the duplicates dropped per landing file."""

    rows: pa.Table
    duplicates: dict[str, int]


def first_of_each(known: Hashes | None, candidates: Sequence[pa.Table], source_column: str) -> DayRows:
    """The `candidates` (in order) without records in `known` or earlier in the candidates.

    `known` are the ids of the day's rows that stay in the table; `duplicates` counts the dropped
    rows by the landing file they came from.
    """
    tables = [t for t in candidates if t.num_rows]
    if not tables:
        empty = candidates[0].schema.empty_table() if candidates else pa.table({})
        return DayRows(empty, {})
    rows = pa.concat_tables(tables)
    seen = SeenIds(expected=rows.num_rows + (len(known[0]) if known is not None else 0))
    if known is not None and len(known[0]):
        seen.add(known)
    keep = keep_new(seen, from_ids(rows.column("_record_id")))
    if keep.all():
        return DayRows(rows, {})
    mask = pa.array(keep)
    dropped = rows.column(source_column).filter(pc.invert(mask))
    duplicates = Counter(dropped.to_pylist())
    kept = pa.Table.from_arrays([c.filter(mask) for c in rows.columns], schema=rows.schema)
    return DayRows(kept, {str(k): v for k, v in duplicates.items()})
