"""Typing of one decoded JSON record against a feed's schema."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from stedi.schemas import MAX_PLAUSIBLE_MS, MIN_PLAUSIBLE_MS, Feed


class RecordError(Exception):
    """A record that cannot be loaded; `code` is stable, `reason` is for people."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _coerce(value: Any, kind: pa.DataType, name: str) -> Any:
    if value is None:
        return None
    if pa.types.is_string(kind):
        if isinstance(value, str):
            return value
    elif pa.types.is_int64(kind):
        if isinstance(value, int) and not isinstance(value, bool):
            if -(2**63) <= value < 2**63:
                return value
            raise RecordError("wrong_type", f"{name}: integer {value} does not fit in 64 bits")
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif pa.types.is_float64(kind) and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise RecordError(
        "wrong_type", f"{name}: expected {kind}, got {type(value).__name__} {json.dumps(value)[:60]}"
    )


def _check_time(value: int, name: str) -> None:
    if MIN_PLAUSIBLE_MS <= value < MAX_PLAUSIBLE_MS:
        return
    hint = (
        " (looks like seconds, not milliseconds)"
        if MIN_PLAUSIBLE_MS // 1000 <= value < MAX_PLAUSIBLE_MS // 1000
        else ""
    )
    raise RecordError(
        "implausible_time", f"{name}: {value} is not an epoch-millisecond time in 2000..2099{hint}"
    )


def type_record(feed: Feed, obj: Any) -> dict[str, Any]:
    """Return the record's typed fields plus `_extra` (unknown keys as JSON), or raise RecordError."""
    if not isinstance(obj, dict):
        raise RecordError("not_an_object", f"expected a JSON object, got {type(obj).__name__}")
    row: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in obj.items():
        name = feed.canonical_key(str(key))
        if name is None:
            extra[str(key)] = value
            continue
        typed = _coerce(value, feed.schema.field(name).type, name)
        if name in row and row[name] is not None and typed is not None and row[name] != typed:
            raise RecordError("conflicting_keys", f"{name} appears twice with different values")
        if row.get(name) is None:
            row[name] = typed
    for name in feed.required:
        value = row.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise RecordError("missing_required", f"required key {name} is missing, null or empty")
    for name in feed.times:
        if row.get(name) is not None:
            _check_time(row[name], name)
    row["_extra"] = json.dumps(extra, sort_keys=True, ensure_ascii=False) if extra else None
    return row
