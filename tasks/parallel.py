"""Work that can run on any task-runner worker (a Dask worker included): validation parts, file parsing.

Workers only compute and return Arrow data or counts; every Delta commit stays in the flow process,
so each table change is still one atomic Delta version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext

from stedi import validation_pool
from stedi.ingest.parse import ParsedFile, parse_file
from stedi.schemas import FEEDS_BY_NAME
from stedi.storage import Landing
from stedi.validation import Part, PartResult, run_part

# Part of a larger step: a failure fails the step, which has its own retries.
PART_OPTIONS: dict[str, Any] = {"cache_policy": NO_CACHE, "retries": 0}


@task(name="validate_part", **PART_OPTIONS)
def validate_part(part: Part) -> list[PartResult]:
    """Run some of a table's expectations on one batch of its rows."""
    return run_part(part)


@task(name="parse_landing_files", **PART_OPTIONS)
def parse_landing_files(
    landing: str, storage_options: Mapping[str, str], feed: str, paths: Sequence[str]
) -> list[tuple[str, ParsedFile]]:
    """Parse some landing files of `feed`: (display name, parsed file) for each, in order."""
    source = Landing(landing, storage_options)
    spec = FEEDS_BY_NAME[feed]
    return [
        (source.display_name(p), parse_file(spec, source.read_bytes(p), source.display_name(p)))
        for p in paths
    ]


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
    pooled = [validation_pool.submit(fn, p) for p in parts]
    if any(f is None for f in pooled):
        return [fn(p) for p in parts]
    return [f.result() for f in pooled if f is not None]


def parse_files(
    landing: str, storage_options: Mapping[str, str], feed: str, paths: Sequence[str], groups: int
) -> list[tuple[str, ParsedFile]]:
    """Parse `paths` in `groups` contiguous groups, mapped over the flow's workers on Dask.

    The order of the result is the order of `paths`, whatever the worker count.
    """
    if not on_dask() or groups < 2 or len(paths) < 2:
        parsed: list[tuple[str, ParsedFile]] = parse_landing_files.fn(landing, storage_options, feed, paths)
        return parsed
    size = -(-len(paths) // groups)
    chunks = [list(paths[i : i + size]) for i in range(0, len(paths), size)]
    futures = [parse_landing_files.submit(landing, storage_options, feed, c) for c in chunks]
    return [item for f in futures for item in f.result()]
