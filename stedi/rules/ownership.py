"""Device ownership over time (strict policy): who a step reading's device belonged to when it was taken.

A customer's records ordered by lastUpdateDate form its history. A record is in force from its
lastUpdateDate until the customer's next (later) lastUpdateDate; the customer's first dated record is
in force from the beginning of time, its last until the end of time. A record without lastUpdateDate
cannot be placed, so it is taken to be in force from the beginning of time until the customer's
newest lastUpdateDate (for ever when the customer has no dated record): it can only widen the times
at which a device counts as shared, never give a device to anyone.

A reading taken at time t on serial s belongs to customer k iff a record of k in force at t names s
(serials compared normalised, see stedi.identity) and no other customer's record in force at t names
s. Otherwise it is unattributable (two or more customers) or has no owner.

The customer records are small; the decision per reading is a dictionary lookup for devices that
only ever had one owner, and a join against the (few) ownership segments of the others, so it works
on any chunk of readings.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from stedi.identity import normalise_email, normalise_serial
from stedi.rules.keys import lookup

KEY = "_key"
FROM = "_from"
UNTIL = "_until"
OWNERS = "_owners"
BEGINNING = -(2**63)  # epoch-ms sentinels for "since the beginning" and "until the end of time"
END = 2**63 - 1
_ROW = "_row"

SEGMENTS_SCHEMA = pa.schema(
    [
        pa.field("serialNumber", pa.string()),
        pa.field(FROM, pa.int64()),
        pa.field(UNTIL, pa.int64()),
        pa.field(KEY, pa.string()),
        pa.field(OWNERS, pa.int32()),
    ]
)


class Ownership(NamedTuple):
    """Ownership segments and the serials that were shared at some time.

    `segments`: per normalised serial, non-overlapping [_from, _until) spans (epoch ms, BEGINNING/END
    for unbounded) during which `_owners` customers' records in force named it; `_key` is the owner's
    normalised email when `_owners` is 1, else null (shared: unattributable).
    """

    segments: pa.Table
    shared: pa.Array


def record_periods(customers: pa.Table) -> list[tuple[str, str, int, int]]:
    """(normalised serial, normalised email, from, until) of every customer record naming a serial."""
    keys = normalise_email(customers["email"]).to_pylist()
    serials = normalise_serial(customers["serialNumber"]).to_pylist()
    dates = customers["lastUpdateDate"].to_pylist()
    history: dict[str, set[int]] = defaultdict(set)
    for key, date in zip(keys, dates, strict=True):
        if key is not None and date is not None:
            history[key].add(date)
    nexts: dict[str, dict[int, int]] = {}
    firsts: dict[str, int] = {}
    for key, known in history.items():
        ordered = sorted(known)
        firsts[key] = ordered[0]
        nexts[key] = dict(zip(ordered, [*ordered[1:], END], strict=True))
    out: list[tuple[str, str, int, int]] = []
    for key, serial, date in zip(keys, serials, dates, strict=True):
        if key is None or not serial:
            continue
        if date is None:
            newest = max(history[key]) if key in history else END
            out.append((serial, key, BEGINNING, newest))
        else:
            start = BEGINNING if date == firsts[key] else date
            out.append((serial, key, start, nexts[key][date]))
    return out


def device_owners(customers: pa.Table) -> Ownership:
    """The ownership segments of every serial the customer records name, and the serials ever shared."""
    periods: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
    for serial, key, start, until in set(record_periods(customers)):
        if start < until:
            periods[serial].append((key, start, until))
    rows: list[tuple[str, int, int, str | None, int]] = []
    shared: list[str] = []
    for serial in sorted(periods):
        spans = periods[serial]
        cuts = sorted({t for _, start, until in spans for t in (start, until)})
        merged: list[tuple[str, int, int, str | None, int]] = []
        for start, until in itertools.pairwise(cuts):
            named = {key for key, s, u in spans if s <= start and until <= u}
            if not named:
                continue
            owner = next(iter(named)) if len(named) == 1 else None
            last = merged[-1] if merged else None
            if last and last[2] == start and last[3] == owner and (last[4] > 1) == (len(named) > 1):
                merged[-1] = (serial, last[1], until, owner, max(last[4], len(named)))
            else:
                merged.append((serial, start, until, owner, len(named)))
        if any(m[4] > 1 for m in merged):
            shared.append(serial)
        rows += merged
    names = SEGMENTS_SCHEMA.names
    segments = pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in rows], SEGMENTS_SCHEMA)
    return Ownership(segments, pa.array(shared, pa.string()))


def owner_at(
    serials: pa.ChunkedArray | pa.Array, times: pa.ChunkedArray | pa.Array, ownership: Ownership
) -> tuple[pa.DictionaryArray, pa.Array]:
    """Per reading: its device's owner (normalised email) at its time, null when none or shared; and
    whether the device was shared at that time.

    The owner comes back dictionary-encoded (one entry per owner), so later lookups cost the number
    of customers, not of readings.
    """
    segments = ownership.segments
    serial_col = segments["serialNumber"].combine_chunks()
    keys = pc.unique(pc.drop_null(segments[KEY]).combine_chunks())
    owner_index = pc.index_in(segments[KEY], value_set=keys).combine_chunks().cast(pa.int32())
    shared_flag = pc.greater(segments[OWNERS], 1).combine_chunks()
    # A device with one segment over all time is a dictionary lookup; the others join on their segments.
    counts = segments.group_by("serialNumber").aggregate([("serialNumber", "count")])
    once = counts.filter(pc.equal(counts["serialNumber_count"], 1))["serialNumber"].combine_chunks()
    whole = pc.and_(pc.equal(segments[FROM], BEGINNING), pc.equal(segments[UNTIL], END))
    static = pc.and_(whole, pc.is_in(serial_col, value_set=once)).combine_chunks()
    dynamic = pc.unique(serial_col.filter(pc.invert(static)))
    owner = lookup(serials, serial_col.filter(static), owner_index.filter(static), normalise=True)
    shared = lookup(serials, serial_col.filter(static), shared_flag.filter(static), normalise=True)
    owner_arr = owner.combine_chunks()
    shared_arr = pc.fill_null(shared.combine_chunks(), False)
    if len(dynamic) and len(owner_arr):
        flag = pa.array([True] * len(dynamic), pa.bool_())
        is_dynamic = pc.fill_null(lookup(serials, dynamic, flag, normalise=True).combine_chunks(), False)
        rows = pc.indices_nonzero(is_dynamic)
        picked = pa.table(
            {
                _ROW: rows,
                "serialNumber": normalise_serial(pc.take(serials, rows)),
                "_t": pc.take(times, rows),
            }
        )
        spans = pa.table(
            {
                "serialNumber": serial_col,
                FROM: segments[FROM],
                UNTIL: segments[UNTIL],
                "_owner": owner_index,
                "_shared": shared_flag,
            }
        ).filter(pc.invert(static))
        joined = picked.join(spans, keys="serialNumber", join_type="inner")
        inside = pc.and_(pc.greater_equal(joined["_t"], joined[FROM]), pc.less(joined["_t"], joined[UNTIL]))
        hit = joined.filter(inside)
        # Segments of a device do not overlap, so each reading hits at most one; align hits with `rows`.
        at = pc.index_in(rows, value_set=hit[_ROW].combine_chunks())
        dyn_owner = hit["_owner"].combine_chunks().take(at)
        dyn_shared = pc.fill_null(hit["_shared"].combine_chunks().take(at), False)
        owner_arr = pc.replace_with_mask(owner_arr, is_dynamic, dyn_owner)
        shared_arr = pc.replace_with_mask(shared_arr, is_dynamic, dyn_shared)
    return pa.DictionaryArray.from_arrays(owner_arr, keys), shared_arr
