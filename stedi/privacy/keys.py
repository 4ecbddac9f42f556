"""Keyed hashes (HMAC-SHA256 under the subject salt) of emails and device serials.

An email's hash is its `subject_id`; a serial's hash is domain-separated (`serial:` prefix), so a
serial that happens to equal an email never collides with it. Both are normalised by
`stedi.identity` first, the same Arrow functions the rules match with.
"""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa
import pyarrow.compute as pc

from stedi.identity import normalise_email, normalise_email_value, normalise_serial, normalise_serial_value
from stedi.subject import hash_normalised

EMAIL = "email"
SERIAL = "serial"
_PREFIX = {EMAIL: b"", SERIAL: b"serial:"}


def normalise(value: str, kind: str = EMAIL) -> str:
    """Trimmed and lower-cased by stedi.identity: how emails and serials are matched."""
    return normalise_serial_value(value) if kind == SERIAL else normalise_email_value(value)


def keyed_hash(value: str, salt: bytes, kind: str = EMAIL) -> str:
    """HMAC-SHA256 of the normalised value; for an email this is its subject_id."""
    return hash_normalised(normalise(value, kind), salt, _PREFIX[kind])


def hash_of_normalised(value: str, salt: bytes, kind: str = EMAIL) -> str:
    """keyed_hash of a value already normalised by stedi.identity (skips normalising it again)."""
    return hash_normalised(value, salt, _PREFIX[kind])


def salt_fingerprint(salt: bytes) -> str:
    """Names a salt without revealing it: tombstones record which salt keyed them."""
    return hmac.new(salt, b"stedi-salt-fingerprint", hashlib.sha256).hexdigest()[:16]


def keyed_hashes(values: pa.Array | pa.ChunkedArray, salt: bytes, kind: str = EMAIL) -> pa.ChunkedArray:
    """keyed_hash of every value (null stays null), hashing each distinct value of a chunk once."""
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    prefix = _PREFIX[kind]
    out = []
    for chunk in chunks:
        encoded = chunk if pa.types.is_dictionary(chunk.type) else pc.dictionary_encode(chunk)
        dictionary = encoded.dictionary
        normalised = normalise_serial(dictionary) if kind == SERIAL else normalise_email(dictionary)
        hashed = pa.array(
            [None if v is None else hash_normalised(v, salt, prefix) for v in normalised.to_pylist()],
            pa.string(),
        )
        out.append(hashed.take(encoded.indices))
    return pa.chunked_array(out, type=pa.string())
