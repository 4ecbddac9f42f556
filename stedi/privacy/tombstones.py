"""Tombstones: keyed hashes of erased subjects that make every later ingest drop their data.

A tombstone holds the HMAC of an erased email (its subject_id) or of an erased device serial, never
the plaintext, so re-delivered landing files cannot bring an erased subject back.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from stedi.identity import normalise_email
from stedi.privacy.keys import (
    EMAIL,
    SERIAL,
    hash_of_normalised,
    keyed_hashes,
    normalise,
    salt_fingerprint,
)
from stedi.privacy.tables import TOMBSTONE_SCHEMA
from stedi.schemas import Feed

if TYPE_CHECKING:
    from stedi.storage import Lake

TOMBSTONES = "tombstones"

# A span of reading times [from, until) in epoch ms; None is unbounded.
Period = tuple[int | None, int | None]
ALL_TIME: tuple[Period, ...] = ((None, None),)
SerialPeriods = Mapping[str, Sequence[Period]]

# The reading time of each feed whose subject key is a device serial.
TIME_COLUMNS = {"step_trainer": "sensorReadingTime"}
_READING_TIME = re.compile(r'"sensorreadingtime"\s*:\s*(-?\d+)')

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

    def periods(self, salt: bytes) -> dict[str, tuple[Period, ...]]:
        """serial hash -> the reading-time periods its tombstones (keyed with `salt`) cover."""
        t = self.table
        mine = pc.and_(pc.equal(t["kind"], SERIAL), pc.equal(t["salt_fingerprint"], salt_fingerprint(salt)))
        picked = t.filter(mine)
        out: dict[str, list[Period]] = defaultdict(list)
        for h, start, until in zip(
            picked["hash"].to_pylist(),
            picked["valid_from"].to_pylist(),
            picked["valid_until"].to_pylist(),
            strict=True,
        ):
            out[h].append((start, until))
        return {h: tuple(p) for h, p in out.items()}

    def stale(self, salt: bytes) -> int:
        """Tombstones keyed with another salt: they no longer match after a salt rotation."""
        return int(pc.sum(pc.not_equal(self.table["salt_fingerprint"], salt_fingerprint(salt))).as_py() or 0)


def read_tombstones(lake: Lake) -> Tombstones:
    """The lakehouse's tombstones (none when no subject was ever erased)."""
    if not lake.exists(TOMBSTONES):
        return Tombstones.empty()
    return Tombstones(with_periods(lake.read(TOMBSTONES)))


def with_periods(table: pa.Table) -> pa.Table:
    """A tombstone table in TOMBSTONE_SCHEMA; one written before serial periods existed reads as unbounded."""
    for name in ("valid_from", "valid_until"):
        if name not in table.column_names:
            table = table.append_column(name, pa.nulls(table.num_rows, pa.int64()))
    return table.select(TOMBSTONE_SCHEMA.names).cast(TOMBSTONE_SCHEMA)


def tombstone_rows(
    emails: Mapping[str, str],
    serials: Mapping[str, str],
    salt: bytes,
    erased_at: datetime,
    periods: SerialPeriods | None = None,
) -> pa.Table:
    """Tombstone rows for hash -> subject maps of emails and serials.

    A serial gets one row per period of `periods` (serial hash -> reading-time periods); a serial
    without periods is tombstoned for all time.
    """
    fingerprint = salt_fingerprint(salt)
    spans = periods or {}
    rows = [
        {
            "kind": kind,
            "hash": h,
            "subject": s,
            "salt_fingerprint": fingerprint,
            "erased_at": erased_at,
            "valid_from": start,
            "valid_until": until,
        }
        for kind, keys in ((EMAIL, emails), (SERIAL, serials))
        for h, s in sorted(keys.items())
        for start, until in (spans.get(h, ALL_TIME) if kind == SERIAL else ALL_TIME)
    ]
    return pa.Table.from_pylist(rows, schema=TOMBSTONE_SCHEMA)


def within(time: int | None, periods: Sequence[Period]) -> bool:
    """`time` falls in one of `periods` (an unknown time falls in every period: fail closed)."""
    if time is None:
        return True
    return any(
        (start is None or time >= start) and (until is None or time < until) for start, until in periods
    )


def subjects_by_hash(
    column: pa.Array | pa.ChunkedArray,
    keys: Mapping[str, str],
    salt: bytes,
    kind: str,
    times: pa.Array | pa.ChunkedArray | None = None,
    periods: SerialPeriods | None = None,
) -> pa.ChunkedArray:
    """Per value of `column`: the subject whose tombstone/erasure key matches it, else null.

    With `times` (the rows' reading times) and `periods` (hash -> periods), a hash listed in
    `periods` matches only rows whose time falls in one of its periods.
    """
    if not keys:
        n = len(column)
        return pa.chunked_array([pa.nulls(n, pa.string())], type=pa.string())
    hashes = pa.array(list(keys), pa.string())
    subjects = pa.array(list(keys.values()), pa.string())
    hashed = keyed_hashes(column, salt, kind)
    found = pa.chunked_array(
        [subjects.take(pc.index_in(c, value_set=hashes)) for c in hashed.chunks], type=pa.string()
    ).combine_chunks()
    if times is None or not periods:
        return pa.chunked_array([found], type=pa.string())
    # Matches are few (one subject's rows): check their times one by one.
    rows = pc.indices_nonzero(pc.is_valid(found))
    row_hashes = hashed.combine_chunks().take(rows).to_pylist()
    row_times = pc.take(times, rows).to_pylist()
    outside = [
        r
        for r, h, t in zip(rows.to_pylist(), row_hashes, row_times, strict=True)
        if h in periods and not within(t, periods[h])
    ]
    if outside:
        positions = pc.subtract(pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int64()), len(found))), 1)
        mask = pc.is_in(positions, value_set=pa.array(outside, pa.int64()))
        found = pc.if_else(mask, pa.scalar(None, pa.string()), found)
    return pa.chunked_array([found], type=pa.string())


def subjects_in_text(
    lines: pa.Array | pa.ChunkedArray,
    emails: Mapping[str, str],
    serials: Mapping[str, str],
    salt: bytes,
    needles: Mapping[str, str] | None = None,
    periods: SerialPeriods | None = None,
) -> pa.Array:
    """Per raw line: the subject one of whose identifiers it contains, else null.

    Identifiers are found as tokens (quoted strings, bare emails, UUIDs) whose keyed hash matches;
    `needles` (normalised plaintext -> subject, only while an erasure runs) also match as substrings
    of the normalised line. Tokens and lines are normalised by stedi.identity, in one Arrow call each.
    A serial with `periods` (hash -> periods) matches only a line whose sensorReadingTime falls in one
    of them, or whose time cannot be read (fail closed).
    """
    texts = [line or "" for line in lines.to_pylist()]
    found = [[next(g for g in m.groups() if g is not None) for m in _TOKENS.finditer(t)] for t in texts]
    flat = [token for tokens in found for token in tokens]
    normalised = normalise_email(pa.array(flat, pa.string())).to_pylist() if flat else []
    subject_of: dict[str, tuple[str, str] | None] = {}
    for token in set(normalised):
        if not token:
            continue
        email = emails.get(hash_of_normalised(token, salt, EMAIL))
        serial_hash = hash_of_normalised(token, salt, SERIAL)
        serial = serials.get(serial_hash)
        subject_of[token] = (email, "") if email else (serial, serial_hash) if serial else None
    spans = periods or {}
    needle_spans = {n: spans.get(hash_of_normalised(n, salt, SERIAL)) for n in (needles or {})}
    lowered = normalise_email(pa.array(texts, pa.string())).to_pylist() if needles else texts
    out: list[str | None] = []
    position = 0
    for low, tokens in zip(lowered, found, strict=True):
        subject = None
        for token in normalised[position : position + len(tokens)]:
            hit = subject_of.get(token)
            if hit and (not hit[1] or hit[1] not in spans or within(_reading_time(low), spans[hit[1]])):
                subject = hit[0]
                break
        position += len(tokens)
        if subject is None and needles:
            subject = _needle_subject(low, needles, needle_spans)
        out.append(subject)
    return pa.array(out, pa.string())


def _needle_subject(
    text: str, needles: Mapping[str, str], spans: Mapping[str, Sequence[Period] | None]
) -> str | None:
    for needle, subject in needles.items():
        if needle and needle in text:
            periods = spans.get(needle)
            if periods is None or within(_reading_time(text), periods):
                return subject
    return None


def _reading_time(text: str) -> int | None:
    match = _READING_TIME.search(text.lower())
    return int(match.group(1)) if match else None


def drop_erased(feed: Feed, rows: pa.Table, tombstones: Tombstones, salt: bytes) -> tuple[pa.Table, int]:
    """`rows` of a landing feed without those of erased subjects, and how many were dropped."""
    if not len(tombstones) or rows.num_rows == 0:
        return rows, 0
    column, kind = FEED_KEYS[feed.name]
    time = TIME_COLUMNS.get(feed.name)
    times = rows[time] if time else None
    periods = tombstones.periods(salt) if time else None
    matched = subjects_by_hash(rows[column], tombstones.keys(salt, kind), salt, kind, times, periods)
    keep = pc.is_null(matched)
    kept = rows.filter(keep)
    return kept, rows.num_rows - kept.num_rows


def drop_erased_lines(quarantined: pa.Table, tombstones: Tombstones, salt: bytes) -> tuple[pa.Table, int]:
    """Quarantine rows without raw lines that carry an erased subject's email or serial."""
    if not len(tombstones) or quarantined.num_rows == 0:
        return quarantined, 0
    matched = subjects_in_text(
        quarantined["raw_line"],
        tombstones.keys(salt, EMAIL),
        tombstones.keys(salt, SERIAL),
        salt,
        periods=tombstones.periods(salt),
    )
    kept = quarantined.filter(pc.is_null(matched))
    return kept, quarantined.num_rows - kept.num_rows


def normalised_needles(values: Mapping[str, str]) -> dict[str, str]:
    """plaintext -> subject with the plaintext normalised (for substring search in lowered text)."""
    return {normalise(k): v for k, v in values.items() if normalise(k)}
