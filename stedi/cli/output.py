"""Machine-readable output: with `--json`, stdout carries one JSON document and nothing else.

While a `--json` command runs, file descriptor 1 points at stderr, so prints, log handlers and
subprocesses (the temporary Prefect server, Dask or validation workers) cannot add to stdout; the
document goes to the saved real stdout when the command emits it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, TextIO

_document: list[TextIO] = []  # the real stdout while a --json command runs


@contextmanager
def json_stdout() -> Iterator[None]:
    """Reserve stdout for `emit_json`; everything else written to it meanwhile goes to stderr."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    real = os.fdopen(saved, "w", encoding="utf-8")
    previous, sys.stdout = sys.stdout, sys.stderr
    _document.append(real)
    try:
        yield
    finally:
        _document.pop()
        sys.stdout = previous
        real.flush()
        os.dup2(saved, 1)
        real.close()


def emit_json(document: Any) -> None:
    """Write `document` as the command's JSON output (to stdout, or the stdout saved by json_stdout)."""
    out = _document[-1] if _document else sys.stdout
    out.write(json.dumps(document, indent=2, default=_jsonable, ensure_ascii=False) + "\n")
    out.flush()


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)
