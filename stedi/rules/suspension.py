"""Fail closed on consent: which customers count as not consenting because their newest record is unclear.

Strict policy. The consent in force for a customer (normalised email) is the newest record's. The
customer is suspended (counts as not consenting) when "newest" is ambiguous or possibly hidden:

- a record of the customer lacks lastUpdateDate;
- the largest lastUpdateDate is shared by two or more distinct records;
- a record of the customer was quarantined for a consent or time field (`implausible_time`, or
  `wrong_type`/`conflicting_keys` naming one of those fields) or for duplicate keys (`duplicate_keys`).
  The customer is found by the normalised email of the quarantined line when it parses; lines
  where no email can be read are counted (`suspensions_unidentified`).

A suspension clears only when a valid record whose lastUpdateDate is strictly greater than every other
known lastUpdateDate of the customer (quarantined lines included, when theirs can be read) was
ingested after every record or line that caused it. "After" compares `_ingested_at`, then the source
file name; records of the same file (or records without lineage columns) are never known to be later,
so their suspension stays.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from stedi.identity import normalise_email
from stedi.schemas import CUSTOMER

Position = tuple[datetime, str] | None

SUSPENDING_CODES = frozenset({"implausible_time", "duplicate_keys"})
FIELD_CODES = frozenset({"wrong_type", "conflicting_keys"})
TIME_FIELDS = frozenset(CUSTOMER.times)


@dataclass(frozen=True)
class Suspensions:
    """Suspended customers (normalised emails) and the quarantined lines no customer could be read from."""

    keys: pa.Array
    unidentified: int = 0


@dataclass
class _History:
    dated: dict[tuple[Any, ...], tuple[int, Position]]
    events: list[Position]
    quarantined_dates: list[int]


def _positions(table: pa.Table, file_column: str) -> list[Position]:
    if "_ingested_at" not in table.column_names or file_column not in table.column_names:
        return [None] * table.num_rows
    return list(zip(table["_ingested_at"].to_pylist(), table[file_column].to_pylist(), strict=True))


def _later(a: Position, b: Position) -> bool:
    """a was ingested strictly after b (unknown positions are never later)."""
    return a is not None and b is not None and a > b


def suspends(reason_code: str, reason: str) -> bool:
    """A quarantine reason that may hide a newer consent state: a consent or time field, or duplicate keys."""
    if reason_code in SUSPENDING_CODES:
        return True
    if reason_code in FIELD_CODES:
        field = reason.split(":", 1)[0].split(" ", 1)[0]
        return field in TIME_FIELDS
    return False


def quarantined_identity(raw_line: str) -> tuple[list[str], list[int]] | None:
    """The emails and lastUpdateDate values a quarantined customer line names (None: it does not parse)."""
    body = raw_line.strip()
    body = body[:-1].rstrip() if body.endswith(",") else body
    try:
        pairs = json.loads(body, object_pairs_hook=lambda p: p)
    except ValueError:
        return None
    if not isinstance(pairs, list) or not all(isinstance(p, tuple) for p in pairs):
        return None
    emails = [v for k, v in pairs if k.strip().lower() == "email" and isinstance(v, str) and v.strip()]
    dates = [
        v
        for k, v in pairs
        if k.strip().lower() == "lastupdatedate" and isinstance(v, int) and not isinstance(v, bool)
    ]
    return emails, dates


def suspended_customers(customers: pa.Table, quarantined: pa.Table | None = None) -> Suspensions:
    """The customers whose consent is suspended (see the module docstring).

    `customers`: customer landing records (the source fields, plus `_ingested_at` and `_source_file`
    when known). `quarantined`: quarantine rows (`feed`, `reason_code`, `reason`, `raw_line`,
    `source_file`, `_ingested_at`); rows of other feeds are ignored.
    """
    events, unidentified = _quarantine_events(quarantined)
    histories: dict[str, _History] = defaultdict(lambda: _History({}, [], []))
    names = CUSTOMER.schema.names
    keyed = customers.append_column("_key", normalise_email(customers["email"]))
    keyed = keyed.filter(pc.is_valid(keyed["_key"]))
    # A customer with one distinct, dated record and no quarantined line is never ambiguous: only
    # the other customers' records are looked at one by one.
    distinct = keyed.select([*names, "_key"]).group_by([*names, "_key"], use_threads=False).aggregate([])
    per_key = distinct.group_by("_key", use_threads=False).aggregate(
        [("_key", "count"), ("lastUpdateDate", "count")]
    )
    plain = pc.and_(pc.equal(per_key["_key_count"], 1), pc.equal(per_key["lastUpdateDate_count"], 1))
    plain_keys = per_key["_key"].filter(plain).combine_chunks()
    named = pa.array(sorted({key for key, _, _ in events}), pa.string())
    looked_at = pc.or_(
        pc.invert(pc.is_in(keyed["_key"], value_set=plain_keys)), pc.is_in(keyed["_key"], value_set=named)
    )
    others = keyed.filter(looked_at)
    contents = zip(*(others[n].to_pylist() for n in names), strict=True)
    rows = zip(
        others["_key"].to_pylist(),
        others["lastUpdateDate"].to_pylist(),
        contents,
        _positions(others, "_source_file"),
        strict=True,
    )
    for key, date, content, position in rows:
        history = histories[key]
        if date is None:
            history.events.append(position)
        elif content not in history.dated or _later(position, history.dated[content][1]):
            history.dated[content] = (date, position)
    for key, position, dates in events:
        histories[key].events.append(position)
        histories[key].quarantined_dates.extend(dates)
    suspended = sorted(key for key, history in histories.items() if _is_suspended(history))
    return Suspensions(pa.array(suspended, pa.string()), unidentified)


def _quarantine_events(quarantined: pa.Table | None) -> tuple[list[tuple[str, Position, list[int]]], int]:
    """(normalised email, position, lastUpdateDate values) per suspending quarantined customer line,
    and the number of such lines no email could be read from."""
    if quarantined is None or not quarantined.num_rows:
        return [], 0
    rows = quarantined.filter(pc.equal(quarantined["feed"], "customer"))
    found: list[tuple[list[str], Position, list[int]]] = []
    unidentified = 0
    for row, position in zip(rows.to_pylist(), _positions(rows, "source_file"), strict=True):
        if not suspends(row["reason_code"], row["reason"]):
            continue
        identity = quarantined_identity(row["raw_line"])
        if not identity or not identity[0]:
            unidentified += 1
            continue
        found.append((identity[0], position, identity[1]))
    emails = [e for line, _, _ in found for e in line]
    normalised = iter(normalise_email(pa.array(emails, pa.string())).to_pylist())
    events = []
    for line, position, dates in found:
        for key in {next(normalised) for _ in line}:
            events.append((key, position, dates))
    return events, unidentified


def _is_suspended(history: _History) -> bool:
    if not history.dated:
        return True
    newest = max(date for date, _ in history.dated.values())
    tied = [position for date, position in history.dated.values() if date == newest]
    if len(tied) > 1:
        return True
    if any(date >= newest for date in history.quarantined_dates):
        return True
    (position,) = tied
    return not all(_later(position, event) for event in history.events)
