"""Record batches regrouped into tables of a bounded size, so per-chunk costs are paid rarely."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa

CHUNK_ROWS = 1_000_000


def chunked(
    batches: Iterable[pa.RecordBatch], schema: pa.Schema, rows: int = CHUNK_ROWS
) -> Iterator[pa.Table]:
    """Tables of about `rows` rows (at least one batch each) from a stream of record batches.

    An empty stream gives one empty table of `schema`, so an empty source still yields a frame to
    validate and counts of zero.

    A scan yields batches of a few thousand to a few hundred thousand rows; rules that look up a
    dictionary of customers per chunk would otherwise pay that lookup per small batch.
    """
    pending: list[pa.RecordBatch] = []
    size = 0
    empty = True
    for batch in batches:
        empty = False
        pending.append(batch)
        size += batch.num_rows
        if size >= rows:
            yield pa.Table.from_batches(pending)
            pending, size = [], 0
    if pending:
        yield pa.Table.from_batches(pending)
    elif empty:
        yield schema.empty_table()
