"""The streaming ingest: files in groups of bounded size, one group parsed ahead in a thread, each group
deduplicated against everything before it and handed on as one table, so memory holds two groups."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar, cast

import pyarrow as pa

from stedi.ingest.ledger import FileOutcome
from stedi.ingest.lineage import ParsedLanding, StampedGroup, keep_new_rows, stamp_group
from stedi.ingest.seen import SeenIds
from stedi.schemas import Feed

T = TypeVar("T")

# About 500k accelerometer rows: large enough that per-group costs (Python calls, a dedupe run)
# stay small, small enough that the groups in flight (one parsed ahead, one being written) hold a
# few hundred MB. Measured at 10M readings: 96 MB groups cost ~300 MB more peak RSS, no less CPU.
GROUP_BYTES = 48 * 2**20


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


_END = object()


def read_ahead(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """Yield `items` while a thread computes the next `depth` of them (never more).

    Parsing (Arrow's JSON reader, sha256) releases the GIL, so the next group parses on the second
    core while this one is hashed, validated and written; memory holds the current item and the
    `depth` being made. An exception in the thread is raised here; closing this generator early
    stops the thread after the item it is working on.
    """
    ready: queue.Queue[tuple[T | None, BaseException | None, bool]] = queue.Queue()
    slots = threading.Semaphore(depth)  # one per item that may exist beyond the consumer's
    stop = threading.Event()

    def produce() -> None:
        source = iter(items)
        try:
            while True:
                slots.acquire()
                if stop.is_set():
                    return
                item = next(source, _END)
                if item is _END:
                    ready.put((None, None, True))
                    return
                ready.put((cast(T, item), None, False))
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
            slots.release()  # the producer may start the next one while this one is used
            yield cast(T, item)
    finally:
        stop.set()
        slots.release()
        worker.join()


@dataclass
class Tally:
    """What a stream has produced so far besides its rows: per-file outcomes and quarantine rows."""

    outcomes: list[FileOutcome] = field(default_factory=list)
    quarantine: list[pa.Table] = field(default_factory=list)
    groups: int = 0

    @property
    def deduplicated(self) -> int:
        return sum(o.deduplicated for o in self.outcomes)


def landing_groups(
    feed: Feed,
    groups: Iterable[StampedGroup | Sequence[ParsedLanding]],
    ingested_at: datetime,
    known: SeenIds,
    tally: Tally,
    ahead: bool = True,
) -> Iterator[pa.Table]:
    """One table of new rows (landing schema) per group of files, parsed or already stamped.

    With `ahead` the next group is made in a thread meanwhile (`groups` parses as it is
    iterated); without it `groups` is iterated here (its groups are made elsewhere, on workers).
    """
    for group in read_ahead(groups) if ahead else groups:
        stamped = group if isinstance(group, StampedGroup) else stamp_group(feed, group, ingested_at)
        del group  # the parsed tables are garbage once stamped: not kept while the rows are written
        batch = keep_new_rows(feed, stamped, ingested_at, known)
        del stamped
        tally.outcomes += batch.outcomes
        tally.quarantine.append(batch.quarantine)
        tally.groups += 1
        rows = batch.rows
        del batch
        yield rows
