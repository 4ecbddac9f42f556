"""Schemas of the privacy tables: erasure requests (plaintext, drained), erasure log and tombstones."""

from __future__ import annotations

import pyarrow as pa

UTC_US = pa.timestamp("us", tz="UTC")

# The only privacy table that holds plaintext: requests wait here until an erasure run drains them.
ERASURE_REQUESTS_SCHEMA = pa.schema(
    [pa.field("email", pa.string(), nullable=False), pa.field("requested_at", UTC_US, nullable=False)]
)

# One row per subject and erasure run: keyed hash only, counts, never plaintext.
ERASURE_LOG_SCHEMA = pa.schema(
    [
        pa.field("erasure_id", pa.string(), nullable=False),
        pa.field("subject", pa.string(), nullable=False),
        pa.field("requested_at", UTC_US),
        pa.field("erased_at", UTC_US, nullable=False),
        pa.field("rows_removed", pa.map_(pa.string(), pa.int64()), nullable=False),
        pa.field("rows_removed_total", pa.int64(), nullable=False),
        pa.field("files_vacuumed", pa.int64(), nullable=False),
        pa.field("raw_lines_removed", pa.int64(), nullable=False),
        pa.field("salt_fingerprint", pa.string(), nullable=False),
    ]
)

# Keyed hashes of erased emails (kind "email": the subject_id) and device serials (kind "serial").
# A serial tombstone covers the readings taken in [valid_from, valid_until) (epoch ms; null: unbounded),
# the time the erased subject's records named the device; tombstones written before these columns
# existed read as unbounded.
TOMBSTONE_SCHEMA = pa.schema(
    [
        pa.field("kind", pa.string(), nullable=False),
        pa.field("hash", pa.string(), nullable=False),
        pa.field("subject", pa.string(), nullable=False),
        pa.field("salt_fingerprint", pa.string(), nullable=False),
        pa.field("erased_at", UTC_US, nullable=False),
        pa.field("valid_from", pa.int64()),
        pa.field("valid_until", pa.int64()),
    ]
)
