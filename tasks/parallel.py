"""Work that can run on any task-runner worker (a Dask worker included): validation parts, file parsing.

Workers only compute and return Arrow data or counts; every Delta commit stays in the flow process,
so each table change is still one atomic Delta version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext

from stedi import validation_pool
from stedi.config import RunConfig
from stedi.ingest.ledger import SeenFile
from stedi.ingest.lineage import ParsedLanding, StampedGroup, stamp_group
from stedi.ingest.parse import parse_file
from stedi.schemas import Feed
from stedi.storage import Landing
from stedi.validation import Part, PartResult, run_part

# Part of a larger step: a failure fails the step, which has its own retries.
PART_OPTIONS: dict[str, Any] = {"cache_policy": NO_CACHE, "retries": 0}


@task(name="validate_part", **PART_OPTIONS)
def validate_part(part: Part) -> list[PartResult]:
    """Run some of a table's expectations on one batch of its rows."""
    return run_part(part)


def read_group(
    landing: Landing, feed: Feed, files: Sequence[tuple[SeenFile, str]], ingested_at: datetime
) -> StampedGroup:
    return stamp_group(feed, [read_landing(landing, feed, file, path) for file, path in files], ingested_at)


def read_landing(landing: Landing, feed: Feed, file: SeenFile, path: str) -> ParsedLanding:
    """One landing file parsed, with the hash of its content."""
    data = landing.read_bytes(path)
    return ParsedLanding(file, hashlib.sha256(data).hexdigest(), parse_file(feed, data, file.path))


def read_groups(
    config: RunConfig, feed: Feed, groups: Sequence[Sequence[tuple[SeenFile, str]]], ingested_at: datetime
) -> Iterator[StampedGroup]:
    """The groups of files parsed and stamped, in order, as they are iterated."""
    landing = Landing(config.landing, config.storage_options)
    for group in groups:
        yield read_group(landing, feed, group, ingested_at)


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
