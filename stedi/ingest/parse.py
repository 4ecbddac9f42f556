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
            obj = json.loads(body)
        except json.JSONDecodeError as exc:
            bad.append(
                Quarantined(number, "invalid_json", f"not JSON: {exc.msg} at column {exc.colno}", text)
            )
            continue
        try:
            rows.append(type_record(feed, obj))
        except RecordError as exc:
            bad.append(Quarantined(number, exc.code, exc.reason, text))
    return ParsedFile(pa.Table.from_pylist(rows, schema=row_schema(feed)), bad)


def _parse_array(feed: Feed, data: bytes) -> ParsedFile:
    """A file holding one JSON array of records; element N is reported as line N."""
    try:
        items = json.loads(data.decode("utf-8"))
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
            rows.append(type_record(feed, item))
        except RecordError as exc:
            bad.append(Quarantined(number, exc.code, exc.reason, json.dumps(item, ensure_ascii=False)))
    return ParsedFile(pa.Table.from_pylist(rows, schema=row_schema(feed)), bad)


def _whole_file(feed: Feed, code: str, reason: str, data: bytes) -> ParsedFile:
    raw = data.decode("utf-8", "backslashreplace")
    return ParsedFile(row_schema(feed).empty_table(), [Quarantined(0, code, reason, raw)])
