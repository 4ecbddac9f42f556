"""One run at a time per lakehouse: an exclusive lock held for the whole run.

Local lakehouses use an advisory `flock` on `<lakehouse>/_stedi.lock`; the kernel releases it when
the holder dies, so a killed run never leaves a stale lock. On object stores every Delta commit is
already atomic (conditional put), so two runs cannot corrupt a table; the lock there is best effort.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stedi.config import is_local
from stedi.errors import InputError, TerminalError

LOCK_FILE = "_stedi.lock"


class LakehouseBusyError(TerminalError):
    """Another run holds the lakehouse lock for longer than this run was willing to wait."""


@contextmanager
def lakehouse_lock(lakehouse: str, wait_seconds: float = 600.0, poll: float = 0.5) -> Iterator[bool]:
    """Hold the lakehouse's run lock; yields True when a lock is held, False on object stores."""
    if not is_local(lakehouse):
        yield False
        return
    root = Path(lakehouse.removeprefix("file://"))
    try:
        root.mkdir(parents=True, exist_ok=True)
        handle = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise InputError(
            f"cannot use lakehouse {lakehouse}: {exc.strerror}; check the path and its permissions"
        ) from exc
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LakehouseBusyError(
                        f"another stedi run is working on {lakehouse} (waited {wait_seconds:.0f} s); "
                        "try again when it has finished"
                    ) from None
                time.sleep(poll)
        yield True
    finally:
        os.close(handle)
