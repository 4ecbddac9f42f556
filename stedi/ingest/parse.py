"""Parse one landing file: a fast Arrow path for clean NDJSON, a tolerant line-by-line path for the rest."""

from __future__ import annotations

import gzip
import io
import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from stedi.ingest.records import RecordError, type_record
from stedi.schemas import MAX_PLAUSIBLE_MS, MIN_PLAUSIBLE_MS, Feed

BOM = b"\xef\xbb\xbf"
_LEADING_BLANKS = re.compile(rb"\s*")


@dataclass(frozen=True)
class Quarantined:
    """One record that could not be loaded, with where it was and why."""

    line_number: int
    reason_code: str
    reason: str
    raw_line: str


@dataclass(frozen=True)
class ParsedFile:
    """The typed rows of one file (feed schema plus `_extra`) and its quarantined records."""

    rows: pa.Table
    quarantined: list[Quarantined] = field(default_factory=list)
    fast_path: bool = False


def row_schema(feed: Feed) -> pa.Schema:
    return feed.schema.append(pa.field("_extra", pa.string()))


def parse_file(feed: Feed, data: bytes, name: str) -> ParsedFile:
    """Turn the bytes of a landing file into rows and quarantine records; never raises on bad content."""
    if name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            return _whole_file(feed, "invalid_gzip", f"not a readable gzip file: {exc}", data)
    if data.startswith(BOM):
        data = data[len(BOM) :]
    # The first non-blank byte decides; data.strip() would copy the whole file to find it.
    first = _LEADING_BLANKS.match(data)
    start = first.end() if first else 0
    if start == len(data):
        return ParsedFile(row_schema(feed).empty_table(), fast_path=True)
    if data[start : start + 1] == b"[":
        return _parse_array(feed, data.strip())
    fast = _fast_path(feed, data)
    if fast is not None:
        return fast
    return _parse_lines(feed, data)


def _fast_path(feed: Feed, data: bytes) -> ParsedFile | None:
    """Arrow's JSON reader; None whenever anything is unusual, so the tolerant path decides."""
    options = pajson.ParseOptions(explicit_schema=feed.schema, unexpected_field_behavior="error")
    try:
        table = pajson.read_json(io.BytesIO(data), parse_options=options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if table.num_rows != lines and table.num_rows != _count_records(data):
        return None
    for name in feed.required:
        column = table.column(name)
        if column.null_count or (pa.types.is_string(column.type) and _any_blank(column)):
            return None
    for name in feed.times:
        column = table.column(name)
        valid = pc.and_(pc.greater_equal(column, MIN_PLAUSIBLE_MS), pc.less(column, MAX_PLAUSIBLE_MS))
        if pc.sum(pc.invert(valid)).as_py():
            return None
    table = table.select(feed.schema.names).cast(feed.schema)
    extra = pa.nulls(table.num_rows, pa.string())
    return ParsedFile(table.append_column(pa.field("_extra", pa.string()), extra), fast_path=True)


def _any_blank(column: pa.ChunkedArray) -> bool:
    return bool(pc.any(pc.equal(pc.utf8_trim_whitespace(column), "")).as_py())


def _count_records(data: bytes) -> int:
    """Non-blank lines: what the Arrow reader must have turned into rows when a file has blank lines."""
    return sum(1 for line in data.split(b"\n") if line.strip())


def _parse_lines(feed: Feed, data: bytes) -> ParsedFile:
    rows: list[dict[str, Any]] = []
    bad: list[Quarantined] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad.append(
                Quarantined(
                    number,
                    "invalid_utf8",
                    f"not valid UTF-8: {exc.reason} at byte {exc.start}",
                    line.decode("utf-8", "backslashreplace"),
                )
            )
            continue
        body = text[:-1].rstrip() if text.endswith(",") else text
        try:
            obj = _loads(body)
        except json.JSONDecodeError as exc:
            bad.append(
                Quarantined(number, "invalid_json", f"not JSON: {exc.msg} at column {exc.colno}", text)
            )
            continue
        try:
            rows.append(_typed(feed, obj))
        except RecordError as exc:
            bad.append(Quarantined(number, exc.code, exc.reason, text))
    return ParsedFile(pa.Table.from_pylist(rows, schema=row_schema(feed)), bad)


def _parse_array(feed: Feed, data: bytes) -> ParsedFile:
    """A file holding one JSON array of records; element N is reported as line N."""
    try:
        items = json.loads(data.decode("utf-8"), object_pairs_hook=_record)
    except UnicodeDecodeError as exc:
        return _whole_file(feed, "invalid_utf8", f"JSON array file is not valid UTF-8: {exc.reason}", data)
    except json.JSONDecodeError as exc:
        return _whole_file(
            feed, "invalid_json", f"JSON array file does not parse: {exc.msg} at line {exc.lineno}", data
        )
    if not isinstance(items, list):
        return _whole_file(feed, "not_an_object", "file starts with '[' but is not a JSON array", data)
    rows: list[dict[str, Any]] = []
    bad: list[Quarantined] = []
    for number, item in enumerate(items, start=1):
        try:
            rows.append(_typed(feed, item))
        except RecordError as exc:
            bad.append(Quarantined(number, exc.code, exc.reason, json.dumps(item, ensure_ascii=False)))
    return ParsedFile(pa.Table.from_pylist(rows, schema=row_schema(feed)), bad)


class _Record(dict[str, Any]):
    """A decoded JSON object that remembers the first key it held more than once."""

    duplicate: str | None = None


def _loads(body: str) -> Any:
    """json.loads, noticing duplicate keys: decoded again key by key only when the line could hold one.

    Every key is followed by a colon, so a record with as many colons as decoded keys holds no
    duplicate; anything else (a duplicate, a nested object, a colon inside a value) is decoded again
    with a hook that sees every key.
    """
    obj = json.loads(body)
    if isinstance(obj, dict) and body.count(":") == len(obj):
        return obj
    return json.loads(body, object_pairs_hook=_record)


def _record(pairs: list[tuple[str, Any]]) -> _Record:
    record = _Record()
    for key, value in pairs:
        if key in record and record.duplicate is None:
            record.duplicate = key
        record[key] = value
    return record


# Consent fields where a revocation is sometimes written as 0, "", "null" or false: all mean "no consent".
CONSENT_FIELDS = frozenset(
    {"shareWithResearchAsOfDate", "shareWithPublicAsOfDate", "shareWithFriendsAsOfDate"}
)


def is_revocation(value: Any) -> bool:
    """0, false, "" or "null" (any case, trimmed): a consent date field written as a revocation."""
    if value is False:
        return True
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value == 0
    return isinstance(value, str) and value.strip().lower() in ("", "null")


def _typed(feed: Feed, obj: Any) -> dict[str, Any]:
    """type_record, after refusing duplicate keys and reading revocation spellings as null.

    Duplicate keys are refused (reason `duplicate_keys`): JSON decoders keep one of the values
    silently, and which one is a guess (for a consent field, a guess about consent). The fast Arrow
    path never sees them: Arrow's reader fails on a repeated column, so the file comes here.
    """
    if isinstance(obj, _Record) and obj.duplicate is not None:
        raise RecordError("duplicate_keys", f"{obj.duplicate} appears more than once in one record")
    if isinstance(obj, dict):
        revoked = [
            k for k, v in obj.items() if feed.canonical_key(str(k)) in CONSENT_FIELDS and is_revocation(v)
        ]
        if revoked:
            obj = {**obj, **dict.fromkeys(revoked)}
    return type_record(feed, obj)


def _whole_file(feed: Feed, code: str, reason: str, data: bytes) -> ParsedFile:
    raw = data.decode("utf-8", "backslashreplace")
    return ParsedFile(row_schema(feed).empty_table(), [Quarantined(0, code, reason, raw)])
