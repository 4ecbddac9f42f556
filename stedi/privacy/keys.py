"""Keyed hashes (HMAC-SHA256 under the subject salt) of emails and device serials.

An email's hash is its `subject_id`; a serial's hash is domain-separated (`serial:` prefix), so a
serial that happens to equal an email never collides with it.
"""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa
import pyarrow.compute as pc

from stedi.subject import subject_id

EMAIL = "email"
SERIAL = "serial"
_PREFIX = {EMAIL: b"", SERIAL: b"serial:"}


def normalise(value: str) -> str:
    """Trimmed and lower-cased: how emails (and, for erasure, serials) are matched."""
    return value.strip().lower()


def keyed_hash(value: str, salt: bytes, kind: str = EMAIL) -> str:
    """HMAC-SHA256 of the normalised value; for an email this is its subject_id."""
    if kind == EMAIL:
        return subject_id(value, salt)
    return hmac.new(salt, _PREFIX[kind] + normalise(value).encode("utf-8"), hashlib.sha256).hexdigest()


def salt_fingerprint(salt: bytes) -> str:
    """Names a salt without revealing it: tombstones record which salt keyed them."""
    return hmac.new(salt, b"stedi-salt-fingerprint", hashlib.sha256).hexdigest()[:16]


def keyed_hashes(values: pa.Array | pa.ChunkedArray, salt: bytes, kind: str = EMAIL) -> pa.ChunkedArray:
    """keyed_hash of every value (null stays null), hashing each distinct value of a chunk once."""
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    out = []
    for chunk in chunks:
        encoded = chunk if pa.types.is_dictionary(chunk.type) else pc.dictionary_encode(chunk)
        hashed = pa.array(
            [None if v is None else keyed_hash(v, salt, kind) for v in encoded.dictionary.to_pylist()],
            pa.string(),
        )
        out.append(hashed.take(encoded.indices))
    return pa.chunked_array(out, type=pa.string())
