"""Rewriting raw landing files without the lines of erased subjects (`stedi erase --include-raw`)."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa

from stedi.privacy.subjects import ErasureKeys
from stedi.privacy.tombstones import subjects_in_text


def strip_subjects(data: bytes, gzipped: bool, keys: ErasureKeys, salt: bytes) -> tuple[bytes, int]:
    """The file's bytes without records of erased subjects, and how many records were removed.

    Works line by line; a line holding a JSON array (a whole-file array) is filtered element by element.
    Returns the input unchanged when nothing matched, so untouched files keep their bytes.
    """
    text = (gzip.decompress(data) if gzipped else data).decode("utf-8", errors="surrogateescape")
    lines = text.splitlines(keepends=True)
    matched = _matches(lines, keys, salt)
    if not any(matched):
        return data, 0
    out: list[str] = []
    removed = 0
    for line, hit in zip(lines, matched, strict=True):
        if not hit:
            out.append(line)
            continue
        kept, dropped = _filter_array(line, keys, salt)
        removed += dropped
        if kept is not None:
            out.append(kept)
    body = "".join(out).encode("utf-8", errors="surrogateescape")
    return (gzip.compress(body) if gzipped else body), removed


def _matches(lines: list[str], keys: ErasureKeys, salt: bytes) -> list[bool]:
    subjects = subjects_in_text(
        pa.array(lines, pa.string()), keys.emails, keys.serials, salt, keys.needles, keys.serial_periods
    )
    return [s is not None for s in subjects.to_pylist()]


def _filter_array(line: str, keys: ErasureKeys, salt: bytes) -> tuple[str | None, int]:
    """(what to keep of a matched line, records removed): a JSON array keeps its other elements."""
    try:
        value = json.loads(line)
    except ValueError:
        return None, 1
    if not isinstance(value, list):
        return None, 1
    items = [json.dumps(v, ensure_ascii=False) for v in value]
    hits = _matches(items, keys, salt)
    kept = [v for v, hit in zip(value, hits, strict=True) if not hit]
    ending = "\n" if line.endswith("\n") else ""
    return json.dumps(kept, ensure_ascii=False) + ending, sum(hits)
