"""Exact-duplicate detection: a 128-bit id per record, computed column by column with numpy."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

RECORD_ID = "_record_id"
RECORD_ID_TYPE = pa.binary(16)
_NULL = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads every input bit over the whole word."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    out: np.ndarray = z ^ (z >> np.uint64(31))
    return out


def _string_hashes(values: list[str | None]) -> np.ndarray:
    return np.array(
        [
            int.from_bytes(hashlib.blake2b(v.encode("utf-8"), digest_size=8).digest(), "little")
            if v is not None
            else int(_NULL)
            for v in values
        ],
        dtype=np.uint64,
    )


def _column_hash(column: pa.ChunkedArray) -> np.ndarray:
    parts = []
    # One chunk per column: strings are hashed once per distinct value of the whole group, not per
    # Arrow block (a 1M-row group parsed from NDJSON has hundreds of blocks).
    chunks = [column.combine_chunks()] if column.num_chunks > 1 else column.chunks
    for chunk in chunks:
        valid = pc.is_valid(chunk).to_numpy(zero_copy_only=False)
        if pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type):
            encoded = chunk.dictionary_encode()
            table = _string_hashes(encoded.dictionary.to_pylist())
            indices = pc.fill_null(encoded.indices, 0).to_numpy(zero_copy_only=False)
            hashed = table[indices] if len(table) else np.zeros(len(chunk), np.uint64)
        elif pa.types.is_floating(chunk.type):
            values = (
                pc.fill_null(chunk, 0.0).to_numpy(zero_copy_only=False).astype(np.float64) + 0.0
            )  # -0.0 == 0.0
            hashed = values.view(np.uint64).copy()
        else:
            hashed = (
                pc.fill_null(chunk.cast(pa.int64()), 0).to_numpy(zero_copy_only=False).view(np.uint64).copy()
            )
        hashed[~valid] = _NULL
        parts.append(hashed)
    return np.concatenate(parts) if parts else np.zeros(0, np.uint64)


Hashes = tuple[np.ndarray, np.ndarray]


def record_hashes(table: pa.Table, columns: list[str]) -> Hashes:
    """Two independent 64-bit hashes per row of the values of `columns`: equal records, equal hashes."""
    n = table.num_rows
    h1 = np.full(n, 0x243F6A8885A308D3, np.uint64)
    h2 = np.full(n, 0x13198A2E03707344, np.uint64)
    for position, name in enumerate(columns):
        value = _column_hash(table.column(name)) + np.uint64(position)
        h1 = _mix(h1 ^ value)
        h2 = _mix((h2 + np.uint64(0x6A09E667F3BCC909)) ^ _mix(value ^ np.uint64(0xA4093822299F31D0)))
    return h1, h2


def to_ids(hashes: Hashes) -> pa.Array:
    """The 16-byte `_record_id` column stored in landing tables (Delta has no fixed-size binary)."""
    h1, h2 = hashes
    raw = np.stack([h1, h2], axis=1).tobytes()
    fixed = pa.FixedSizeBinaryArray.from_buffers(RECORD_ID_TYPE, len(h1), [None, pa.py_buffer(raw)])
    return fixed.cast(pa.binary())


def from_ids(ids: pa.Array | pa.ChunkedArray) -> Hashes:
    array = (ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids).cast(RECORD_ID_TYPE)
    if len(array) == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.uint64)
    words = np.frombuffer(array.buffers()[1], dtype=np.uint64, count=2 * len(array), offset=array.offset * 16)
    pairs = words.reshape(-1, 2)
    return pairs[:, 0].copy(), pairs[:, 1].copy()
