"""The ingest of a reading feed (accelerometer, step trainer) as partition tasks on the task runner.

Two steps, each a set of tasks on the flow's workers (pool processes or Dask workers):

1. `stage_landing_files`: a group of new landing files is read, hashed, parsed and stamped with
   lineage and record ids; its rows are written to staged Parquet files, one per day of reading time.
2. `land_days`: a unit of days reads its staged files in file order, drops every record already in
   the day (a record's id covers its reading time, so duplicates share a day), validates the rows
   with the table's suite and writes one Parquet file per day into the table's location.

The flow process only commits: one Delta version with every day's new files (and, for days it
rewrites, the old files removed), so a failed task leaves the table as it was. Memory is bounded
by a group of files and a unit of days, not by the feed or the lake.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
from prefect import task, unmapped

from stedi import progress, validation_pool
from stedi.build import work_units
from stedi.config import RunConfig, subject_salt
from stedi.ingest.days import DayRows, first_of_each, split_days
from stedi.ingest.dedupe import from_ids
from stedi.ingest.ledger import FileOutcome, SeenFile
from stedi.ingest.lineage import ParsedLanding, bare_files, quarantine_rows, stamp_rows
from stedi.privacy.tombstones import drop_erased, read_tombstones
from stedi.schemas import DAY, Feed
from stedi.storage import Lake, Landing, PartFile
from stedi.validation import Outcome, ValidationReport, validate
from tasks.days import UnitResult, combine
from tasks.parallel import PART_OPTIONS, on_dask, read_landing

T = TypeVar("T")
R = TypeVar("R")

# Below this many bytes of new files the feed is ingested in the flow process: starting task runs
# on workers costs more than the work.
PARALLEL_BYTES = 64 * 2**20
TARGET_DAY_ROWS = 1_000_000  # rows of a unit of days: one task, one validation run
TASKS_PER_WORKER = 2  # task runs of staging per worker: enough to even out the workers' loads

Mode = Literal["append", "rebuild"]


@dataclass(frozen=True)
class StagedGroup:
    """A group of landing files after step 1: per file what it held, per day its staged rows."""

    files: list[ParsedLanding]  # without rows: hash, size, quarantined lines
    sizes: list[int]  # rows per file
    days: dict[str, tuple[str, int]]  # ISO day -> (staged file, rows)
    quarantine: pa.Table


def stage_group(
    lake: Lake, landing: Landing, feed: Feed, run_key: str, index: int,
    files: Sequence[tuple[SeenFile, str]], ingested_at: datetime,
) -> StagedGroup:  # fmt: skip
    """Step 1 for one group of files ((logged file, full path) each)."""
    parsed = [read_landing(landing, feed, file, path) for file, path in files]
    rows, _, sizes = stamp_rows(feed, parsed, ingested_at)
    days: dict[str, tuple[str, int]] = {}
    for day, part in split_days(rows):
        name = f"{run_key}/{day.isoformat()}/{index:06d}.parquet"
        days[day.isoformat()] = (lake.write_staged(feed.landing_table, name, part), part.num_rows)
    bare = bare_files(parsed)
    return StagedGroup(bare, sizes, days, quarantine_rows(feed, bare, ingested_at))


Batch = list[tuple[int, list[tuple[SeenFile, str]]]]  # groups of files with their place in the feed


@task(name="stage_landing_files", task_run_name="stage-{feed.name}-{first}", **PART_OPTIONS)
def stage_landing_files(
    config: RunConfig, feed: Feed, run_key: str, first: int, batch: Batch, ingested_at: datetime
) -> list[StagedGroup]:
    """Read, parse and stamp some groups of landing files, one after the other; stage their rows by day.

    `first` (the first group's place in the feed) names the task run.
    """
    lake, landing = Lake.of(config), Landing(config.landing, config.storage_options)
    return [stage_group(lake, landing, feed, run_key, i, g, ingested_at) for i, g in batch]


@dataclass(frozen=True)
class LandingUnit:
    """Days of a landing table one task writes, and what it starts from."""

    feed: Feed
    days: list[str]  # ISO days
    staged: dict[str, list[str]]  # per day, its staged files in file order
    version: int | None  # the table version the run starts from (None: no table yet)
    mode: Mode  # append: days keep their rows; rebuild: days are written anew
    sources: list[str]  # append: this run's files; rebuild: vanished files whose rows stay
    day_files: dict[str, list[str]]  # per day, the table's files at `version`

    @property
    def label(self) -> str:
        return self.days[0] if len(self.days) == 1 else f"{self.days[0]}..{self.days[-1]}"


@dataclass(frozen=True)
class LandedUnit:
    """What a unit wrote (uncommitted), removes, dropped and found."""

    files: list[PartFile]
    removed: dict[str, dict[str, str]]  # table path -> partition values
    rows: int  # rows of this run's files written
    duplicates: dict[str, int]  # per landing file
    erased: int
    outcomes: list[Outcome] = field(default_factory=list)
    validation_s: float = 0.0


def _day_rows(lake: Lake, feed: Feed, unit: LandingUnit, day: str) -> tuple[DayRows, int, bool]:
    """The day's rows to write (kept rows first, then the staged ones, each record once), how
    many of them were already in the table, and whether they replace the day's files."""
    table = feed.landing_table
    files = unit.day_files.get(day, [])
    on_day = pc.field(DAY) == pa.scalar(date.fromisoformat(day), pa.date32())
    staged = [lake.read_staged(table, p) for p in unit.staged.get(day, [])]
    kept: list[pa.Table] = []
    known = None
    rewrite = unit.mode == "rebuild"
    if files and ((unit.mode == "rebuild" and unit.sources) or unit.mode == "append"):
        data = lake.dataset(table, unit.version, dictionary=["_source_file"])
        if unit.mode == "rebuild":  # rows of vanished files stay
            where = on_day & pc.field("_source_file").isin(unit.sources)
            kept = [data.to_table(filter=where, use_threads=lake.local)]
        else:
            ids = data.to_table(columns=["_record_id", "_source_file"], filter=on_day, use_threads=lake.local)
            if unit.sources and pc.any(pc.is_in(ids["_source_file"], pa.array(unit.sources))).as_py():
                # A run that crashed after its commit loaded some of these files: the day is
                # written anew without their rows, which come again from the staged files.
                where = on_day & ~pc.field("_source_file").isin(unit.sources)
                kept = [data.to_table(filter=where, use_threads=lake.local)]
                rewrite = True
            else:
                known = from_ids(ids["_record_id"])
    schema = feed.landing_schema
    candidates = [t.select(schema.names).cast(schema) for t in [*kept, *staged]]
    return first_of_each(known, candidates, "_source_file"), sum(t.num_rows for t in kept), rewrite


def land_unit(config: RunConfig, unit: LandingUnit) -> LandedUnit:
    """Step 2 for a unit of days: each record once per day, validated, one file per day."""
    lake = Lake.of(config)
    feed = unit.feed
    tombstones = read_tombstones(lake)
    salt = subject_salt(config.lakehouse).value if len(tombstones) else b""
    written: list[tuple[str, pa.Table]] = []
    duplicates: dict[str, int] = {}
    rows = erased = 0
    removed: dict[str, dict[str, str]] = {}
    for day in unit.days:
        found, kept, rewrite = _day_rows(lake, feed, unit, day)
        for name, n in found.duplicates.items():
            duplicates[name] = duplicates.get(name, 0) + n
        data, dropped = drop_erased(feed, found.rows, tombstones, salt)
        erased += dropped
        rows += data.num_rows - (kept if unit.mode == "append" else 0)
        if rewrite:
            removed |= {p: {DAY: day} for p in unit.day_files.get(day, [])}
        written.append((day, data))
    frames = [d for _, d in written if d.num_rows]
    frame = pa.concat_tables(frames) if frames else feed.landing_schema.empty_table()
    report = validate(feed.landing_table, frame, config.policy, map_parts=validation_pool.map_parts)
    report.raise_if_blocking()  # before any file is written: nothing to clean up
    del frame, frames
    files = [lake.write_part(feed.landing_table, d, {DAY: day}) for day, d in written if d.num_rows]
    return LandedUnit(files, removed, rows, duplicates, erased, report.outcomes, report.seconds)


@task(name="land_days", task_run_name="{unit.feed.name}_landing-{unit.label}", **PART_OPTIONS)
def land_days(config: RunConfig, unit: LandingUnit) -> LandedUnit:
    """Write a unit of days of a landing table (uncommitted)."""
    return land_unit(config, unit)


@dataclass
class Landed:
    """A feed's run through both steps, ready for its commit."""

    files: list[PartFile]
    removed: dict[str, dict[str, str]]
    outcomes: list[FileOutcome]
    quarantine: list[pa.Table]
    rows: int
    erased: int
    groups: int
    report: ValidationReport  # of the rows written


def _run_all(
    parallel: bool,
    submit: Callable[[list[T]], Iterable[Any]],
    local: Callable[[T], R],
    items: list[T],
    advance: Callable[[R], None],
) -> list[R]:
    """`items` through `local`, in order: as task runs on the workers or one after another here."""
    results: list[R] = []
    if parallel and len(items) > 1:
        futures = list(submit(items))
        for future in futures:
            results.append(future.result())
            advance(results[-1])
        return results
    for item in items:
        results.append(local(item))
        advance(results[-1])
    return results


def land_feed(
    config: RunConfig,
    feed: Feed,
    groups: list[list[tuple[SeenFile, str]]],
    run_key: str,
    ingested_at: datetime,
    mode: Mode,
    sources: list[str],
) -> Landed:
    """Both steps for a reading feed's new files; nothing is committed here.

    `mode` append: the table keeps its rows and gains the files' new records (`sources`: the
    files, whose rows a crashed run may have committed already); rebuild: every day is written
    anew from the files plus the rows of `sources` (vanished files) in the current table.
    """
    lake = Lake.of(config)
    table = feed.landing_table
    lake.clear_staged(table)
    size = sum(f.size for g in groups for f, _ in g)
    parallel = on_dask() or ((os.cpu_count() or 1) > 1 and size >= PARALLEL_BYTES)
    landing = Landing(config.landing, config.storage_options)
    # A few groups per task run: each run costs API calls and a client in the worker, a group does not.
    per_task = (
        max(1, -(-len(groups) // (TASKS_PER_WORKER * (os.cpu_count() or 1))))
        if parallel
        else max(1, len(groups))
    )
    indexed = list(enumerate(groups))
    batches = [indexed[i : i + per_task] for i in range(0, len(indexed), per_task)]

    def stage_map(items: list[Batch]) -> Iterable[Any]:
        return [stage_landing_files.submit(config, feed, run_key, b[0][0], b, ingested_at) for b in items]

    staged = [
        group
        for done in _run_all(
            parallel,
            stage_map,
            lambda batch: [stage_group(lake, landing, feed, run_key, i, g, ingested_at) for i, g in batch],
            batches,
            lambda done: progress.advance(table, 0),
        )
        for group in done
    ]
    version = lake.version(table)
    day_files = lake.partition_files(table, DAY, version) if version is not None else {}
    paths: dict[str, list[str]] = {}
    sizes: dict[date, int] = {}
    for group in staged:
        for day, (path, n) in group.days.items():
            paths.setdefault(day, []).append(path)
            sizes[date.fromisoformat(day)] = sizes.get(date.fromisoformat(day), 0) + n
    if mode == "rebuild":  # every day of the table is written anew
        for day in day_files:
            sizes.setdefault(date.fromisoformat(day), 1)
    workers = os.cpu_count() or 1
    spread = workers if parallel else 1
    units = [_unit(feed, [d.isoformat() for d in days], paths, version, mode, sources, day_files)
             for days in work_units(sizes, TARGET_DAY_ROWS, spread)]  # fmt: skip
    landed = _run_all(
        parallel,
        lambda items: land_days.map(unmapped(config), items),
        lambda unit: land_unit(config, unit),
        units,
        lambda result: progress.advance(table, result.rows),
    )
    duplicates: dict[str, int] = {}
    for result in landed:
        for name, n in result.duplicates.items():
            duplicates[name] = duplicates.get(name, 0) + n
    outcomes = [
        FileOutcome(
            feed=feed.name,
            file=f.file,
            content_hash=f.content_hash,
            accepted=size - duplicates.get(f.file.path, 0),
            quarantined=len(f.parsed.quarantined),
            deduplicated=duplicates.get(f.file.path, 0),
        )
        for group in staged
        for f, size in zip(group.files, group.sizes, strict=True)
    ]
    removed: dict[str, dict[str, str]] = {}
    for result in landed:
        removed |= result.removed
    if mode == "rebuild":  # days no unit wrote (none of the table's days is left out)
        removed |= {p: {DAY: d} for d, files in day_files.items() for p in files}
    return Landed(
        files=[f for r in landed for f in r.files],
        removed=removed,
        outcomes=outcomes,
        quarantine=[g.quarantine for g in staged],
        rows=sum(r.rows for r in landed),
        erased=sum(r.erased for r in landed),
        groups=len(staged),
        report=_combined(table, landed),
    )


def _unit(
    feed: Feed, days: list[str], paths: dict[str, list[str]], version: int | None, mode: Mode,
    sources: list[str], day_files: dict[str, list[str]],
) -> LandingUnit:  # fmt: skip
    staged = {d: paths.get(d, []) for d in days}
    return LandingUnit(feed, days, staged, version, mode, sources, {d: day_files.get(d, []) for d in days})


def _combined(table: str, landed: Sequence[LandedUnit]) -> ValidationReport:
    return combine(table, [UnitResult(table, [], {}, r.outcomes, r.rows, r.validation_s) for r in landed])
