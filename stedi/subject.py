"""Pseudonymous subject keys: HMAC-SHA256 of the normalised email under a secret salt."""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa

from stedi.identity import normalise_email, normalise_email_value


def hash_normalised(key: str, salt: bytes, prefix: bytes = b"") -> str:
    """HMAC-SHA256 of an already normalised identity (see stedi.identity)."""
    return hmac.new(salt, prefix + key.encode("utf-8"), hashlib.sha256).hexdigest()


def subject_id(email: str, salt: bytes) -> str:
    """The subject key of one email, normalised by `stedi.identity.normalise_email` before hashing."""
    return hash_normalised(normalise_email_value(email), salt)


def subject_ids(emails: pa.Array | pa.ChunkedArray, salt: bytes) -> pa.Array:
    """Subject keys of an array of emails, hashing each distinct value once."""
    column = emails.combine_chunks() if isinstance(emails, pa.ChunkedArray) else emails
    encoded = normalise_email(column).dictionary_encode()
    hashed = pa.array(
        [None if e is None else hash_normalised(e, salt) for e in encoded.dictionary.to_pylist()], pa.string()
    )
    return hashed.take(encoded.indices)
