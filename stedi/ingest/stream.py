"""Streaming helpers for the ingest: files in groups of bounded size, and one group read ahead in a thread."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

# About 1M accelerometer rows: large enough that per-group costs (a Parquet row group, a GX batch,
# a dedupe run) stay small, small enough that two groups in flight are a few hundred MB.
GROUP_BYTES = 96 * 2**20


def group_files(files: Sequence[T], size: Callable[[T], int], limit: int = GROUP_BYTES) -> list[list[T]]:
    """Consecutive groups of `files`, each up to `limit` bytes (a larger file is a group of its own)."""
    groups: list[list[T]] = []
    current: list[T] = []
    total = 0
    for f in files:
        if current and total + size(f) > limit:
            groups.append(current)
            current, total = [], 0
        current.append(f)
        total += size(f)
    if current:
        groups.append(current)
    return groups


def read_ahead(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """Yield `items` while a thread computes the next `depth` of them.

    Parsing (Arrow's JSON reader, sha256) releases the GIL, so the next group parses on the second
    core while this one is hashed, validated and written. An exception in the thread is raised here;
    closing this generator early stops the thread after the item it is working on.
    """
    ready: queue.Queue[tuple[T | None, BaseException | None, bool]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                ready.put((item, None, False))
            ready.put((None, None, True))
        except BaseException as exc:  # handed to the consumer, who raises it
            ready.put((None, exc, True))

    worker = threading.Thread(target=produce, name="ingest-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item, error, done = ready.get()
            if error is not None:
                raise error
            if done:
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                ready.get(timeout=0.05)
        worker.join()
