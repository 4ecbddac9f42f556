"""Record batches regrouped into chunks for the streaming rules."""

from __future__ import annotations

import pyarrow as pa

from stedi.batching import chunked

SCHEMA = pa.schema([("n", pa.int64())])


def test_batches_are_regrouped_into_chunks_of_at_least_the_wanted_rows() -> None:
    batches = [pa.record_batch([pa.array(range(k * 3, k * 3 + 3))], schema=SCHEMA) for k in range(5)]
    sizes = [t.num_rows for t in chunked(batches, SCHEMA, rows=5)]
    assert sizes == [6, 6, 3]


def test_an_empty_stream_gives_one_empty_chunk_of_the_schema() -> None:
    chunks = list(chunked([], SCHEMA))
    assert [c.schema for c in chunks] == [SCHEMA] and chunks[0].num_rows == 0
