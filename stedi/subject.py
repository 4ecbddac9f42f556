"""Pseudonymous subject keys: HMAC-SHA256 of the normalised email under a secret salt."""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa

from stedi.rules.keys import normalise_email


def subject_id(email: str, salt: bytes) -> str:
    """The subject key of one email (trimmed, lower-cased before hashing)."""
    key = email.strip().lower().encode("utf-8")
    return hmac.new(salt, key, hashlib.sha256).hexdigest()


def subject_ids(emails: pa.Array | pa.ChunkedArray, salt: bytes) -> pa.Array:
    """Subject keys of an array of emails, hashing each distinct value once."""
    column = emails.combine_chunks() if isinstance(emails, pa.ChunkedArray) else emails
    encoded = normalise_email(column).dictionary_encode()
    hashed = pa.array(
        [None if e is None else subject_id(e, salt) for e in encoded.dictionary.to_pylist()], pa.string()
    )
    return hashed.take(encoded.indices)
