"""Work that can run on any task-runner worker (a Dask worker included): validation parts, file parsing.

Workers only compute and return Arrow data or counts; every Delta commit stays in the flow process,
so each table change is still one atomic Delta version.
"""

from __future__ import annotations

import contextvars
import gc
import hashlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.futures import PrefectFuture

from stedi import validation_pool
from stedi.config import RunConfig
from stedi.ingest.ledger import SeenFile
from stedi.ingest.lineage import ParsedLanding, StampedGroup, stamp_group
from stedi.ingest.parse import parse_file
from stedi.schemas import FEEDS_BY_NAME, Feed
from stedi.storage import Landing
from stedi.validation import Part, PartResult, run_part

# Groups of landing files parsed on workers or waiting to be used, at most (each ≈ 48 MB of NDJSON).
IN_FLIGHT = 3
# Groups between two runs of the cycle collector (≈ 0.2 s each in a flow process).
COLLECT_EVERY = 3

# Part of a larger step: a failure fails the step, which has its own retries.
PART_OPTIONS: dict[str, Any] = {"cache_policy": NO_CACHE, "retries": 0}


@task(name="validate_part", **PART_OPTIONS)
def validate_part(part: Part) -> list[PartResult]:
    """Run some of a table's expectations on one batch of its rows."""
    return run_part(part)


@task(name="read_landing_files", task_run_name="read-{feed}-{first}", **PART_OPTIONS)
def read_landing_files(
    config: RunConfig, feed: str, first: str, files: Sequence[tuple[SeenFile, str]], ingested_at: datetime
) -> StampedGroup:
    """Read, hash and parse some landing files of `feed` ((logged file, full path) each) and stamp
    their rows with lineage and record ids, in order. `first` (the first file's name) names the run.
    """
    return read_group(
        Landing(config.landing, config.storage_options), FEEDS_BY_NAME[feed], files, ingested_at
    )


def read_group(
    landing: Landing, feed: Feed, files: Sequence[tuple[SeenFile, str]], ingested_at: datetime
) -> StampedGroup:
    return stamp_group(feed, [read_landing(landing, feed, file, path) for file, path in files], ingested_at)


def read_landing(landing: Landing, feed: Feed, file: SeenFile, path: str) -> ParsedLanding:
    """One landing file parsed, with the hash of its content."""
    data = landing.read_bytes(path)
    return ParsedLanding(file, hashlib.sha256(data).hexdigest(), parse_file(feed, data, file.path))


def read_groups(
    config: RunConfig,
    feed: Feed,
    groups: Sequence[Sequence[tuple[SeenFile, str]]],
    ingested_at: datetime,
    flow_context: contextvars.Context | None,
) -> Iterator[StampedGroup]:
    """The groups of files parsed, in order: on the flow's workers when given the flow's context
    (`contextvars.copy_context()` in the flow run), else here.

    The context is needed because the groups are consumed inside a Delta write, on a thread of
    deltalake's that knows nothing of the flow run. On workers at most `IN_FLIGHT` groups are parsed
    or waiting at once, so memory holds a few groups whatever the feed's size.
    """
    if flow_context is None:
        landing = Landing(config.landing, config.storage_options)
        for group in groups:
            yield read_group(landing, feed, group, ingested_at)
        return
    pending = iter(groups)
    window: deque[PrefectFuture[StampedGroup]] = deque()

    def submit_next() -> None:
        group = next(pending, None)
        if group is not None:
            files = list(group)
            submit = partial(
                read_landing_files.submit, config, feed.name, files[0][0].path, files, ingested_at
            )
            window.append(flow_context.run(submit))

    for _ in range(IN_FLIGHT):
        submit_next()
    done = 0
    while window:
        future = window.popleft()
        submit_next()
        stamped = future.result()
        del future
        yield stamped
        del stamped
        done += 1
        if done % COLLECT_EVERY == 0:
            # A Prefect future and the future it wraps refer to each other (a done-callback), so a
            # used group's result is freed only by the cycle collector: run it, or memory grows by a
            # group per group (measured: 10M readings, 6.4 GB instead of 2.5 GB).
            gc.collect()


def on_dask() -> bool:
    """Whether the current flow run's tasks go to a Dask cluster."""
    context = FlowRunContext.get()
    runner = getattr(context, "task_runner", None)
    return type(runner).__name__ == "DaskTaskRunner"


def map_parts(fn: Callable[[Part], list[PartResult]], parts: Sequence[Part]) -> list[list[PartResult]]:
    """Validate parts on the flow's Dask workers when there are several; else in the validation
    process when it runs (stedi.validation_pool); else here, one after the other.

    Thread-pool runs stay serial: GX is not safe to share between threads.
    """
    if len(parts) >= 2 and on_dask():
        futures = validate_part.map(list(parts))
        return [f.result() for f in futures]
    return validation_pool.map_parts(fn, parts)
