"""The three landing ingests: new or changed landing files to landing Delta tables plus quarantine.

Only files the ingest log has not seen (or whose content changed) are read. New files are added by
replacing their own rows (`_source_file IN ...`), so a run repeated after a crash cannot duplicate
them; a changed file rebuilds its feed, so the table always equals a one-shot build of all files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from prefect import get_run_logger, task

from stedi import progress
from stedi.config import RunConfig, subject_salt
from stedi.ingest.dedupe import from_ids
from stedi.ingest.ledger import SeenFile, latest_entries, log_rows, plan_ingest
from stedi.ingest.seen import SeenIds
from stedi.ingest.stream import GROUP_BYTES, Tally, group_files, landing_groups
from stedi.privacy.tombstones import Tombstones, drop_erased, drop_erased_lines, read_tombstones
from stedi.registry import REGISTRY
from stedi.report import StepReport
from stedi.schemas import QUARANTINE_SCHEMA, Feed
from stedi.storage import Lake, Landing, LandingFile, sql_in
from tasks.landing_days import land_feed
from tasks.options import TASK_OPTIONS
from tasks.parallel import read_groups
from tasks.publish import publish, publish_stream

# Commit info of a landing table's ingest: the run, and whether it appended or rewrote every day.
INGEST_RUN = "stedi.ingest.run"
INGEST_MODE = "stedi.ingest.mode"


def _content_hash(landing: Landing, full_path: str) -> str:
    return hashlib.sha256(landing.read_bytes(full_path)).hexdigest()


@dataclass(frozen=True)
class _Plan:
    """Which files a run reads, which table rows it keeps or checks against, and how it writes."""

    files: list[SeenFile]
    keep_rows_of: list[str]  # rebuild: vanished files whose rows stay
    known_except: list[str] | None  # incremental: ids in the table except these files' are known
    write: dict[str, Any]  # keyword arguments of Lake.write (predicate)
    quarantine_predicate: str
    changed: int


def ingest_feed(
    config: RunConfig, feed: Feed, run_id: str, full_refresh: bool = False, drop_vanished: bool = False
) -> list[StepReport]:
    """Ingest what is new in one feed; returns the reports of the landing table and its quarantine rows.

    A full refresh reads every present file again and keeps the rows of files that have vanished
    from landing since they were loaded, unless `drop_vanished` (the report counts them either way).
    """
    logger = get_run_logger()
    landing = Landing(config.landing, config.storage_options)
    lake = Lake.of(config)
    table = feed.landing_table
    listed = {landing.display_name(f.path): f for f in landing.files(feed.name)}
    seen = [SeenFile(name, f.size, f.mtime_ns) for name, f in listed.items()]
    known = lake.exists(table) and lake.exists("ingest_log")
    fresh = full_refresh or not known
    logged = latest_entries(lake.read("ingest_log"), feed.name) if known else {}
    plan = plan_ingest(seen, logged)
    changed = 0
    for file in plan.suspect:  # size or time moved: the content hash decides
        if _content_hash(landing, listed[file.path].path) == logged[file.path].content_hash:
            plan.unchanged.append(file)
        else:
            changed += 1
    ingested_at = datetime.now(UTC)
    counts = {
        "files_seen": len(seen),
        "files_new": len(plan.new),
        "files_changed": changed,
        "files_unchanged": len(plan.unchanged),
        "files_missing": len(plan.missing),
    }
    exists = lake.exists(table)
    kept = [] if drop_vanished else plan.missing
    if plan.missing:
        counts["rows_of_vanished_files_dropped"] = 0
        if drop_vanished and exists and full_refresh:
            where = pc.field("_source_file").isin(plan.missing)
            counts["rows_of_vanished_files_dropped"] = lake.scan(table, ["_source_file"], where).num_rows
        fate = "dropped (asked for)" if drop_vanished and full_refresh else "kept"
        logger.warning(
            "%s: %d logged files are gone from landing; their rows are %s", feed.name, len(plan.missing), fate
        )
    if changed or (fresh and exists):  # rebuild: every present file again, plus vanished files' rows
        if not full_refresh:
            kept = plan.missing  # only a full refresh may drop them
        quarantine_predicate = f"feed = '{feed.name}'"
        if kept:
            quarantine_predicate += f" AND source_file NOT IN {sql_in(kept)}"
        run = _Plan(seen, kept if exists else [], None, {"predicate": None}, quarantine_predicate, changed)
    elif plan.new or not exists:  # a feed without files still gets its (empty) table
        names = [f.path for f in plan.new]
        run = _Plan(
            plan.new,
            [],
            names if exists else None,
            {"predicate": f"_source_file IN {sql_in(names)}" if exists else None},
            f"feed = '{feed.name}' AND source_file IN {sql_in(names)}",
            0,
        )
    else:
        logger.info("%s: nothing new in %d files", feed.name, len(seen))
        return [_unchanged(lake, table, counts), _unchanged(lake, "quarantine", {})]
    return _ingest(config, lake, landing, feed, listed, run, counts, run_id, ingested_at)


@dataclass
class _FeedTally(Tally):
    """The stream's tally plus what this task adds: rows written, rows of erased subjects, quarantine."""

    rows: int = 0
    erased: int = 0
    final: pa.Table | None = None  # the quarantine rows, once the stream has ended


def _ingest(
    config: RunConfig,
    lake: Lake,
    landing: Landing,
    feed: Feed,
    listed: dict[str, LandingFile],
    run: _Plan,
    counts: dict[str, int],
    run_id: str,
    ingested_at: datetime,
) -> list[StepReport]:
    """The planned files into one commit of the landing table, then quarantine and ingest log."""
    logger = get_run_logger()
    tombstones = read_tombstones(lake)
    salt = subject_salt(config.lakehouse).value if len(tombstones) else b""
    groups = [
        [(f, listed[f.path].path) for f in g] for g in group_files(run.files, lambda f: f.size, GROUP_BYTES)
    ]
    if feed.reading_time:
        main, tally = _land(config, lake, feed, groups, run, counts, run_id, ingested_at, tombstones, salt)
    else:
        main, tally = _stream(config, lake, feed, groups, run, counts, ingested_at, tombstones, salt)
    quarantine = _final_quarantine(tally, tombstones, salt)
    if tally.erased:
        logger.info("%s: %d rows of erased subjects dropped", feed.name, tally.erased)
    reasons = Counter(quarantine["reason_code"].to_pylist())
    logger.info(
        "%s: %d new and %d changed files in %d groups, %d rows accepted, %d duplicates dropped, "
        "%d quarantined",
        feed.name, counts["files_new"], run.changed, tally.groups, tally.rows, tally.deduplicated,
        quarantine.num_rows,
    )  # fmt: skip
    bad = publish(
        lake, "quarantine", quarantine, quarantine, config.policy,
        {f"{feed.name}_{k}": v for k, v in reasons.items()}, predicate=run.quarantine_predicate,
    )  # fmt: skip
    lake.write("ingest_log", log_rows(tally.outcomes, run_id, ingested_at), mode="append")
    return [_with_total(lake, main), _with_total(lake, bad)]


def _final_counts(
    counts: dict[str, int], tally: _FeedTally, tombstones: Tombstones, salt: bytes
) -> dict[str, int]:
    """The feed's counts once every row and quarantine line is known."""
    quarantine = _final_quarantine(tally, tombstones, salt)
    reasons = Counter(quarantine["reason_code"].to_pylist())
    return (
        counts
        | {
            "rows_new": tally.rows,
            "rows_deduplicated": tally.deduplicated,
            "rows_of_erased_subjects": tally.erased,
            "rows_quarantined": quarantine.num_rows,
        }
        | {f"quarantined_{reason}": n for reason, n in sorted(reasons.items())}
    )


def _land(
    config: RunConfig, lake: Lake, feed: Feed, groups: list[list[tuple[SeenFile, str]]], run: _Plan,
    counts: dict[str, int], run_id: str, ingested_at: datetime, tombstones: Tombstones, salt: bytes,
) -> tuple[StepReport, _FeedTally]:  # fmt: skip
    """A reading feed: partition tasks stage and write its days, this process commits them once."""
    logger = get_run_logger()
    table = feed.landing_table
    progress.advance(table)
    rebuild = run.known_except is None and lake.exists(table)
    sources = run.keep_rows_of if rebuild else list(run.known_except or [])
    landed = land_feed(config, feed, groups, run_id, ingested_at, "rebuild" if rebuild else "append", sources)
    tally = _FeedTally(landed.outcomes, landed.quarantine, landed.groups, landed.rows, landed.erased)
    report = landed.report
    for outcome in report.warnings:
        logger.warning("%s: %s", table, outcome.describe())
    report.raise_if_blocking()
    metadata = {INGEST_RUN: run_id, INGEST_MODE: "rebuild" if rebuild else "append"}
    version = lake.commit_files(
        table, landed.files, landed.removed, metadata, removed_partitions=landed.removed
    )
    lake.clear_staged(table)
    progress.finish(table)
    logger.info("%s: %d rows published as Delta version %d", table, landed.rows, version)
    final = _final_counts(counts, tally, tombstones, salt)
    return StepReport(table, version, landed.rows, final, report.outcomes, report.seconds), tally


def _stream(
    config: RunConfig, lake: Lake, feed: Feed, groups: list[list[tuple[SeenFile, str]]], run: _Plan,
    counts: dict[str, int], ingested_at: datetime, tombstones: Tombstones, salt: bytes,
) -> tuple[StepReport, _FeedTally]:  # fmt: skip
    """A feed without reading time (customers): its files stream into one write of the table."""
    tally = _FeedTally()
    # Sized once for the rows to come (about 64 bytes of NDJSON per record or more) plus the table's.
    present = lake.count(feed.landing_table) if run.known_except is not None or run.keep_rows_of else 0
    known = SeenIds(expected=sum(f.size for f in run.files) // 64 + present)
    if run.known_except is not None:
        _load_known(lake, feed.landing_table, run.known_except, known)

    def drop_erased_rows(rows: pa.Table) -> pa.Table:
        if len(tombstones):
            rows, erased = drop_erased(feed, rows, tombstones, salt)
            tally.erased += erased
        tally.rows += rows.num_rows
        return rows

    kept = _kept_rows(lake, feed, run.keep_rows_of, known)  # opened before the write starts

    def chunks() -> Iterator[tuple[pa.Table, pa.Table]]:
        new = landing_groups(feed, read_groups(config, feed, groups, ingested_at), ingested_at, known, tally)
        for rows in itertools.chain(kept, new):
            rows = drop_erased_rows(rows)
            yield rows, rows

    main = publish_stream(
        lake, feed.landing_table, chunks(), feed.landing_schema, config.policy,
        lambda: _final_counts(counts, tally, tombstones, salt), **run.write,
    )  # fmt: skip
    return main, tally


def _final_quarantine(tally: _FeedTally, tombstones: Tombstones, salt: bytes) -> pa.Table:
    """The stream's quarantine rows without lines of erased subjects (computed once)."""
    if tally.final is None:
        quarantine = (
            pa.concat_tables(tally.quarantine) if tally.quarantine else QUARANTINE_SCHEMA.empty_table()
        )
        if len(tombstones):
            quarantine, erased_lines = drop_erased_lines(quarantine, tombstones, salt)
            tally.erased += erased_lines
        tally.final = quarantine
    return tally.final


def _load_known(lake: Lake, table: str, exclude: list[str], known: SeenIds) -> None:
    """Record ids already in the table, except those of files about to be replaced, batch by batch."""
    where = ~pc.field("_source_file").isin(exclude) if exclude else None
    for batch in lake.batches(table, ["_record_id"], where):
        known.add(from_ids(batch.column(0)))


def _kept_rows(lake: Lake, feed: Feed, files: list[str], known: SeenIds) -> Iterator[pa.Table]:
    """On a rebuild, the rows of vanished files stay: stream them from the current table.

    The table is opened now, not when the stream is read: the stream is read inside the Delta write,
    where opening another Delta table would start a second deltalake runtime and panic.
    """
    if not files:
        return iter(())
    where = pc.field("_source_file").isin(files)
    source = lake.batches(feed.landing_table, feed.landing_schema.names, where)

    def rows() -> Iterator[pa.Table]:
        for batch in source:
            known.add(from_ids(batch.column("_record_id")))
            yield pa.Table.from_batches([batch]).cast(feed.landing_schema)

    return rows()


def _unchanged(lake: Lake, table: str, counts: dict[str, int]) -> StepReport:
    return StepReport(table, lake.version(table), lake.count(table) if lake.exists(table) else 0, counts, [])


def _with_total(lake: Lake, report: StepReport) -> StepReport:
    """Report the table's total rows, not just this run's."""
    return dataclasses.replace(report, rows=lake.count(report.table))


@task(name="landing", task_run_name="{feed}_landing", **TASK_OPTIONS)
def landing_feed(
    config: RunConfig, feed: str, run_id: str, full_refresh: bool = False, drop_vanished: bool = False
) -> list[StepReport]:
    """Ingest `<feed>/landing/*.json` into landing/<feed>_landing (and its bad lines into quarantine)."""
    spec = next(f for f in REGISTRY.feeds if f.name == feed)
    return ingest_feed(config, spec, run_id, full_refresh, drop_vanished)
