"""Device ownership over time (strict policy): who a step reading's device belonged to when it was taken.

A customer's records ordered by lastUpdateDate form its history. A record is in force from its
lastUpdateDate until the customer's next (later) lastUpdateDate; the customer's first dated record is
in force from the beginning of time, its last until the end of time. A record without lastUpdateDate
cannot be placed (it may even be the newest: its customer is suspended), so it is taken to be in
force at all times: it can only widen the times at which a device counts as shared, and its own
customer, suspended, keeps no reading.

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
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from stedi.identity import normalise_email, normalise_serial
from stedi.rules.keys import index_in

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


@dataclass(frozen=True)
class Ownership:
    """Ownership segments, the serials shared at some time, and what `owner_at` looks up.

    `segments`: per normalised serial, non-overlapping [_from, _until) spans (epoch ms, BEGINNING/END
    for unbounded) during which `_owners` customers' records in force named it; `_key` is the owner's
    normalised email when `_owners` is 1, else null (shared: unattributable).
    """

    segments: pa.Table
    shared: pa.Array
    keys: pa.Array = field(repr=False)  # distinct owner keys: the dictionary of owner_at's result
    static: pa.Table = field(repr=False)  # serials with one segment over all time: serial, owner, shared
    spans: pa.Table = field(repr=False)  # the segments of every other serial, owner as an index of keys

    @classmethod
    def of(cls, segments: pa.Table, shared: pa.Array) -> Ownership:
        keys = pc.unique(pc.drop_null(segments[KEY]).combine_chunks())
        owner = pc.index_in(segments[KEY], value_set=keys).combine_chunks().cast(pa.int32())
        flag = pc.greater(segments[OWNERS], 1).combine_chunks()
        serial = segments["serialNumber"].combine_chunks()
        counts = segments.group_by("serialNumber").aggregate([("serialNumber", "count")])
        once = counts.filter(pc.equal(counts["serialNumber_count"], 1))["serialNumber"].combine_chunks()
        whole = pc.and_(pc.equal(segments[FROM], BEGINNING), pc.equal(segments[UNTIL], END)).combine_chunks()
        static = pc.and_(whole, pc.is_in(serial, value_set=once))
        table = pa.table(
            {
                "serialNumber": serial,
                FROM: segments[FROM],
                UNTIL: segments[UNTIL],
                "_owner": owner,
                "_shared": flag,
            }
        )
        return cls(segments, shared, keys, table.filter(static), table.filter(pc.invert(static)))


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
        if date is None:  # fail closed: it may be the newest record, so it may still be in force
            out.append((serial, key, BEGINNING, END))
        else:
            start = BEGINNING if date == firsts[key] else date
            out.append((serial, key, start, nexts[key][date]))
    return out


def device_owners(customers: pa.Table) -> Ownership:
    """The ownership segments of every serial the customer records name, and the serials ever shared.

    Most devices are named only by customers whose every record names that one device: such a device
    has one segment over all time, found with Arrow group-bys. Only devices that some customer's
    history moves to or from go through the interval computation, with those customers' records.
    """
    keyed = pa.table(
        {
            KEY: normalise_email(customers["email"]),
            "serialNumber": normalise_serial(customers["serialNumber"]),
        }
    ).filter(pc.is_valid(normalise_email(customers["email"])))
    named = pc.and_(pc.is_valid(keyed["serialNumber"]), pc.not_equal(keyed["serialNumber"], ""))
    keyed = keyed.append_column("_named", pc.fill_null(named, False))
    per_key = keyed.group_by(KEY, use_threads=False).aggregate(
        [("serialNumber", "count_distinct"), ("_named", "all")]
    )
    simple = pc.and_(pc.equal(per_key["serialNumber_count_distinct"], 1), per_key["_named_all"])
    simple_keys = per_key[KEY].filter(simple).combine_chunks()
    naming = keyed.filter(keyed["_named"])
    naming = naming.append_column("_simple", pc.is_in(naming[KEY], value_set=simple_keys))
    per_serial = naming.group_by("serialNumber", use_threads=False).aggregate(
        [(KEY, "count_distinct"), (KEY, "min"), ("_simple", "all")]
    )
    plain = per_serial.filter(per_serial["_simple_all"])
    n = plain.num_rows
    owners = plain[f"{KEY}_count_distinct"].cast(pa.int32())
    single = pc.equal(owners, 1)
    segments = pa.table(
        {
            "serialNumber": plain["serialNumber"],
            FROM: pa.repeat(pa.scalar(BEGINNING, pa.int64()), n),
            UNTIL: pa.repeat(pa.scalar(END, pa.int64()), n),
            KEY: pc.if_else(single, plain[f"{KEY}_min"], pa.scalar(None, pa.string())),
            OWNERS: owners,
        },
        schema=SEGMENTS_SCHEMA,
    )
    shared = plain["serialNumber"].filter(pc.invert(single)).combine_chunks()
    moved = per_serial["serialNumber"].filter(pc.invert(per_serial["_simple_all"])).combine_chunks()
    if len(moved):
        involved = pc.unique(
            naming[KEY].filter(pc.is_in(naming["serialNumber"], value_set=moved)).combine_chunks()
        )
        history = customers.filter(pc.is_in(normalise_email(customers["email"]), value_set=involved))
        rows, moved_shared = _segments(record_periods(history))
        segments = pa.concat_tables([segments, pa.Table.from_pylist(rows, SEGMENTS_SCHEMA)])
        shared = pa.concat_arrays([shared, pa.array(moved_shared, pa.string())])
    segments = segments.sort_by([("serialNumber", "ascending"), (FROM, "ascending")])
    return Ownership.of(segments, shared.take(pc.sort_indices(shared)))


def _segments(periods: list[tuple[str, str, int, int]]) -> tuple[list[dict[str, object]], list[str]]:
    """Segment rows (as dicts of SEGMENTS_SCHEMA) and shared serials of record periods, in Python."""
    by_serial: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
    for serial, key, start, until in set(periods):
        if start < until:
            by_serial[serial].append((key, start, until))
    rows: list[tuple[str, int, int, str | None, int]] = []
    shared: list[str] = []
    for serial in sorted(by_serial):
        spans = by_serial[serial]
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
    return [dict(zip(names, r, strict=True)) for r in rows], shared


def owner_at(
    serials: pa.ChunkedArray | pa.Array, times: pa.ChunkedArray | pa.Array, ownership: Ownership
) -> tuple[pa.DictionaryArray, pa.Array]:
    """Per reading: its device's owner (normalised email) at its time, null when none or shared; and
    whether the device was shared at that time.

    The owner comes back dictionary-encoded (one entry per owner), so later lookups cost the number
    of customers, not of readings. Works on any chunk of readings.
    """
    static, spans = ownership.static, ownership.spans
    static_serials = static["serialNumber"].combine_chunks()
    dynamic = pc.unique(spans["serialNumber"].combine_chunks())
    owners: list[pa.Array] = []
    flags: list[pa.Array] = []
    moving: list[pa.Array] = []
    chunks = serials.chunks if isinstance(serials, pa.ChunkedArray) else [serials]
    for chunk in chunks:
        encoded = chunk if pa.types.is_dictionary(chunk.type) else chunk.dictionary_encode()
        dictionary = normalise_serial(encoded.dictionary)
        at = index_in(dictionary, static_serials)
        owners.append(static["_owner"].combine_chunks().take(at).take(encoded.indices))
        flags.append(pc.fill_null(static["_shared"].combine_chunks().take(at).take(encoded.indices), False))
        moving.append(pc.is_in(dictionary, value_set=dynamic).take(encoded.indices))
    owner = pa.concat_arrays(owners) if owners else pa.array([], pa.int32())
    shared = pa.concat_arrays(flags) if flags else pa.array([], pa.bool_())
    is_dynamic = pc.fill_null(pa.concat_arrays(moving), False) if moving else pa.array([], pa.bool_())
    if len(dynamic) and pc.any(is_dynamic).as_py():
        rows = pc.indices_nonzero(is_dynamic)
        picked = pa.table(
            {_ROW: rows, "serialNumber": normalise_serial(pc.take(serials, rows)), "_t": pc.take(times, rows)}
        )
        joined = picked.join(spans, keys="serialNumber", join_type="inner")
        inside = pc.and_(pc.greater_equal(joined["_t"], joined[FROM]), pc.less(joined["_t"], joined[UNTIL]))
        hit = joined.filter(inside)
        # Segments of a device do not overlap, so each reading hits at most one; align hits with `rows`.
        at = pc.index_in(rows, value_set=hit[_ROW].combine_chunks())
        owner = pc.replace_with_mask(owner, is_dynamic, hit["_owner"].combine_chunks().take(at))
        shared = pc.replace_with_mask(
            shared, is_dynamic, pc.fill_null(hit["_shared"].combine_chunks().take(at), False)
        )
    return pa.DictionaryArray.from_arrays(owner, ownership.keys), shared
