"""Tombstones: keyed hashes of erased subjects that make every later ingest drop their data.

A tombstone holds the HMAC of an erased email (its subject_id) or of an erased device serial, never
the plaintext, so re-delivered landing files cannot bring an erased subject back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from stedi.privacy.keys import EMAIL, SERIAL, keyed_hash, keyed_hashes, normalise, salt_fingerprint
from stedi.privacy.tables import TOMBSTONE_SCHEMA
from stedi.schemas import Feed

if TYPE_CHECKING:
    from stedi.storage import Lake

TOMBSTONES = "tombstones"

# Which column of each feed identifies a subject, and as what.
FEED_KEYS: dict[str, tuple[str, str]] = {
    "customer": ("email", EMAIL),
    "accelerometer": ("user", EMAIL),
    "step_trainer": ("serialNumber", SERIAL),
}

# Candidate identifiers inside a raw (possibly broken) JSON line: quoted strings, bare emails, UUIDs.
_TOKENS = re.compile(
    r'"((?:[^"\\]|\\.)*)"'
    r"|([\w.+-]+@[\w-]+(?:\.[\w-]+)+)"
    r"|([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
)


@dataclass(frozen=True)
class Tombstones:
    """The tombstone table; `keys(salt)` gives the hashes written under that salt."""

    table: pa.Table

    @classmethod
    def empty(cls) -> Tombstones:
        return cls(TOMBSTONE_SCHEMA.empty_table())

    def __len__(self) -> int:
        return int(self.table.num_rows)

    def keys(self, salt: bytes, kind: str) -> dict[str, str]:
        """hash -> subject for tombstones of `kind` keyed with `salt`."""
        t = self.table
        mine = pc.and_(pc.equal(t["kind"], kind), pc.equal(t["salt_fingerprint"], salt_fingerprint(salt)))
        picked = t.filter(mine)
        return dict(zip(picked["hash"].to_pylist(), picked["subject"].to_pylist(), strict=True))

    def stale(self, salt: bytes) -> int:
        """Tombstones keyed with another salt: they no longer match after a salt rotation."""
        return int(pc.sum(pc.not_equal(self.table["salt_fingerprint"], salt_fingerprint(salt))).as_py() or 0)


def read_tombstones(lake: Lake) -> Tombstones:
    """The lakehouse's tombstones (none when no subject was ever erased)."""
    if not lake.exists(TOMBSTONES):
        return Tombstones.empty()
    return Tombstones(lake.read(TOMBSTONES).select(TOMBSTONE_SCHEMA.names).cast(TOMBSTONE_SCHEMA))


def tombstone_rows(
    emails: Mapping[str, str], serials: Mapping[str, str], salt: bytes, erased_at: datetime
) -> pa.Table:
    """Tombstone rows for hash -> subject maps of emails and serials."""
    fingerprint = salt_fingerprint(salt)
    rows = [
        {"kind": kind, "hash": h, "subject": s, "salt_fingerprint": fingerprint, "erased_at": erased_at}
        for kind, keys in ((EMAIL, emails), (SERIAL, serials))
        for h, s in sorted(keys.items())
    ]
    return pa.Table.from_pylist(rows, schema=TOMBSTONE_SCHEMA)


def subjects_by_hash(
    column: pa.Array | pa.ChunkedArray, keys: Mapping[str, str], salt: bytes, kind: str
) -> pa.ChunkedArray:
    """Per value of `column`: the subject whose tombstone/erasure key matches it, else null."""
    if not keys:
        n = len(column)
        return pa.chunked_array([pa.nulls(n, pa.string())], type=pa.string())
    hashes = pa.array(list(keys), pa.string())
    subjects = pa.array(list(keys.values()), pa.string())
    hashed = keyed_hashes(column, salt, kind)
    return pa.chunked_array(
        [subjects.take(pc.index_in(c, value_set=hashes)) for c in hashed.chunks], type=pa.string()
    )


def subjects_in_text(
    lines: pa.Array | pa.ChunkedArray,
    emails: Mapping[str, str],
    serials: Mapping[str, str],
    salt: bytes,
    needles: Mapping[str, str] | None = None,
) -> pa.Array:
    """Per raw line: the subject one of whose identifiers it contains, else null.

    Identifiers are found as tokens (quoted strings, bare emails, UUIDs) whose keyed hash matches;
    `needles` (normalised plaintext -> subject, only while an erasure runs) also match as substrings.
    """
    out: list[str | None] = []
    for line in lines.to_pylist():
        out.append(_subject_of_line(line or "", emails, serials, salt, needles or {}))
    return pa.array(out, pa.string())


def _subject_of_line(
    line: str, emails: Mapping[str, str], serials: Mapping[str, str], salt: bytes, needles: Mapping[str, str]
) -> str | None:
    for match in _TOKENS.finditer(line):
        token = next(g for g in match.groups() if g is not None)
        if not token.strip():
            continue
        subject = emails.get(keyed_hash(token, salt, EMAIL)) or serials.get(keyed_hash(token, salt, SERIAL))
        if subject:
            return subject
    lowered = line.lower()
    return next((s for needle, s in needles.items() if needle and needle in lowered), None)


def drop_erased(feed: Feed, rows: pa.Table, tombstones: Tombstones, salt: bytes) -> tuple[pa.Table, int]:
    """`rows` of a landing feed without those of erased subjects, and how many were dropped."""
    if not len(tombstones) or rows.num_rows == 0:
        return rows, 0
    column, kind = FEED_KEYS[feed.name]
    matched = subjects_by_hash(rows[column], tombstones.keys(salt, kind), salt, kind)
    keep = pc.is_null(matched)
    kept = rows.filter(keep)
    return kept, rows.num_rows - kept.num_rows


def drop_erased_lines(quarantined: pa.Table, tombstones: Tombstones, salt: bytes) -> tuple[pa.Table, int]:
    """Quarantine rows without raw lines that carry an erased subject's email or serial."""
    if not len(tombstones) or quarantined.num_rows == 0:
        return quarantined, 0
    matched = subjects_in_text(
        quarantined["raw_line"], tombstones.keys(salt, EMAIL), tombstones.keys(salt, SERIAL), salt
    )
    kept = quarantined.filter(pc.is_null(matched))
    return kept, quarantined.num_rows - kept.num_rows


def normalised_needles(values: Mapping[str, str]) -> dict[str, str]:
    """plaintext -> subject with the plaintext normalised (for substring search in lowered text)."""
    return {normalise(k): v for k, v in values.items() if normalise(k)}
