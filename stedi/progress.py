"""Progress events of a run: rows per table as they are written, for a display if one is active.

The pipeline reports with `advance(table, rows)` while a table is being written and `finish(table)`
once it is committed. Both are no-ops (one attribute check) unless a display was activated in this
very process: `stedi run` activates one only when stderr is a terminal, so logs, deployments and
worker processes (also forked ones) never see progress output. Tasks that run in worker processes
report nothing themselves; the flow reports for them as their results arrive (see `advance`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class Sink(Protocol):
    """What a display implements; called from any thread of the process that activated it."""

    def advance(self, table: str, rows: int) -> None: ...

    def finish(self, table: str) -> None: ...


_active: tuple[int, Sink] | None = None  # (pid that activated it, sink)


def _sink() -> Sink | None:
    active = _active
    if active is None or active[0] != os.getpid():  # a forked worker inherits the variable, not the screen
        return None
    return active[1]


def advance(table: str, rows: int = 0) -> None:
    """`rows` more rows of `table` were written; with 0, work on `table` starts (its clock starts).

    A flow whose tasks run in worker processes calls it as each task's result arrives, with the rows
    that result reports.
    """
    sink = _sink()
    if sink is not None:
        sink.advance(table, rows)


def finish(table: str) -> None:
    """`table` is committed: the display freezes its count and shows the average rate."""
    sink = _sink()
    if sink is not None:
        sink.finish(table)


def active() -> bool:
    """True when a display listens in this process (to skip work done only to report progress)."""
    return _sink() is not None


@contextmanager
def activated(sink: Sink) -> Iterator[Sink]:
    """Send this process's progress events to `sink` for the block's duration."""
    global _active
    previous, _active = _active, (os.getpid(), sink)
    try:
        yield sink
    finally:
        _active = previous
