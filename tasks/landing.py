"""The three landing ingests: new or changed landing files to landing Delta tables plus quarantine.

Only files the ingest log has not seen (or whose content changed) are read. New files are added by
replacing their own rows (`_source_file IN ...`), so a run repeated after a crash cannot duplicate
them; a changed file rebuilds its feed, so the table always equals a one-shot build of all files.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
from prefect import get_run_logger, task

from stedi.config import RunConfig, subject_salt
from stedi.ingest.dedupe import Hashes, from_ids
from stedi.ingest.ledger import SeenFile, latest_entries, log_rows, plan_ingest
from stedi.ingest.lineage import Batch, ParsedLanding, build_batch
from stedi.ingest.parse import parse_file
from stedi.privacy.tombstones import drop_erased, drop_erased_lines, read_tombstones
from stedi.report import StepReport
from stedi.schemas import ACCELEROMETER, CUSTOMER, STEP_TRAINER, Feed
from stedi.storage import Lake, Landing, LandingFile, sql_in
from tasks.options import TASK_OPTIONS
from tasks.publish import publish


def _read(landing: Landing, feed: Feed, file: SeenFile, full_path: str) -> ParsedLanding:
    data = landing.read_bytes(full_path)
    return ParsedLanding(file, hashlib.sha256(data).hexdigest(), parse_file(feed, data, file.path))


def _existing_hashes(lake: Lake, table: str, exclude: list[str]) -> Hashes:
    """Record ids already in the table, except those of files about to be replaced."""
    current = lake.read(table, ["_record_id", "_source_file"])
    if exclude:
        current = current.filter(pc.invert(pc.is_in(current["_source_file"], value_set=pa.array(exclude))))
    return from_ids(current["_record_id"])


def ingest_feed(config: RunConfig, feed: Feed, run_id: str, full_refresh: bool = False) -> list[StepReport]:
    """Ingest what is new in one feed; returns the reports of the landing table and its quarantine rows."""
    logger = get_run_logger()
    landing = Landing(config.landing, config.storage_options)
    lake = Lake.of(config)
    table = feed.landing_table
    listed = {landing.display_name(f.path): f for f in landing.files(feed.name)}
    seen = [SeenFile(name, f.size, f.mtime_ns) for name, f in listed.items()]
    fresh = full_refresh or not lake.exists(table) or not lake.exists("ingest_log")
    logged = {} if fresh else latest_entries(lake.read("ingest_log"), feed.name)
    plan = plan_ingest(seen, logged)
    changed: list[ParsedLanding] = []
    for file in plan.suspect:  # size or time moved: the content hash decides
        read = _read(landing, feed, file, listed[file.path].path)
        if read.content_hash == logged[file.path].content_hash:
            plan.unchanged.append(file)
        else:
            changed.append(read)
    ingested_at = datetime.now(UTC)
    counts = {
        "files_seen": len(seen),
        "files_new": len(plan.new),
        "files_changed": len(changed),
        "files_unchanged": len(plan.unchanged),
        "files_missing": len(plan.missing),
    }
    if plan.missing:
        logger.warning(
            "%s: %d logged files are gone from landing; their rows are kept", feed.name, len(plan.missing)
        )
    rebuild = bool(changed) or (fresh and lake.exists(table))
    if rebuild:
        batch = _rebuild(lake, landing, feed, seen, listed, plan.missing, changed, ingested_at)
        write: dict[str, str | None] = {"predicate": None}
        quarantine_predicate = f"feed = '{feed.name}'"
        if plan.missing:
            quarantine_predicate += f" AND source_file NOT IN {sql_in(plan.missing)}"
    elif plan.new or not lake.exists(table):  # a feed without files still gets its (empty) table
        parsed = [_read(landing, feed, f, listed[f.path].path) for f in plan.new]
        names = [f.path for f in plan.new]
        existing = _existing_hashes(lake, table, names) if lake.exists(table) else None
        batch = build_batch(feed, parsed, ingested_at, existing)
        write = (
            {"predicate": f"_source_file IN {sql_in(names)}"} if lake.exists(table) else {"predicate": None}
        )
        quarantine_predicate = f"feed = '{feed.name}' AND source_file IN {sql_in(names)}"
    else:
        logger.info("%s: nothing new in %d files", feed.name, len(seen))
        return [_unchanged(lake, table, counts), _unchanged(lake, "quarantine", {})]
    batch, erased = _drop_erased(lake, config, feed, batch)
    reasons = Counter(batch.quarantine["reason_code"].to_pylist())
    counts |= {
        "rows_new": batch.rows.num_rows,
        "rows_deduplicated": batch.deduplicated,
        "rows_of_erased_subjects": erased,
        "rows_quarantined": batch.quarantine.num_rows,
    }
    counts |= {f"quarantined_{reason}": n for reason, n in sorted(reasons.items())}
    logger.info(
        "%s: %d new and %d changed files, %d rows accepted, %d duplicates dropped, %d quarantined",
        feed.name, len(plan.new), len(changed), batch.rows.num_rows, batch.deduplicated,
        batch.quarantine.num_rows,
    )  # fmt: skip
    main = publish(lake, table, batch.rows, batch.rows, config.policy, counts, **write)
    bad = publish(
        lake, "quarantine", batch.quarantine, batch.quarantine, config.policy,
        {f"{feed.name}_{k}": v for k, v in reasons.items()}, predicate=quarantine_predicate,
    )  # fmt: skip
    lake.write("ingest_log", log_rows(batch.outcomes, run_id, ingested_at), mode="append")
    return [_with_total(lake, main), _with_total(lake, bad)]


def _rebuild(
    lake: Lake,
    landing: Landing,
    feed: Feed,
    seen: list[SeenFile],
    listed: dict[str, LandingFile],
    missing: list[str],
    changed: list[ParsedLanding],
    ingested_at: datetime,
) -> Batch:
    """Every present file again, plus the kept rows of vanished files: the table a one-shot build gives."""
    already = {p.file.path: p for p in changed}
    parsed = [already.get(f.path) or _read(landing, feed, f, listed[f.path].path) for f in seen]
    kept = pa.table({})
    if missing and lake.exists(feed.landing_table):
        current = lake.read(feed.landing_table)
        kept = current.filter(pc.is_in(current["_source_file"], value_set=pa.array(missing)))
    existing = from_ids(kept["_record_id"]) if kept.num_columns else None
    batch = build_batch(feed, parsed, ingested_at, existing)
    if kept.num_columns and kept.num_rows:
        return Batch(
            pa.concat_tables([kept.cast(feed.landing_schema), batch.rows]), batch.quarantine, batch.outcomes
        )
    return batch


def _drop_erased(lake: Lake, config: RunConfig, feed: Feed, batch: Batch) -> tuple[Batch, int]:
    """Rows and quarantine lines of erased subjects never load again, even from re-delivered files."""
    tombstones = read_tombstones(lake)
    if not len(tombstones):
        return batch, 0
    salt = subject_salt(config.lakehouse).value
    rows, erased = drop_erased(feed, batch.rows, tombstones, salt)
    quarantine, erased_lines = drop_erased_lines(batch.quarantine, tombstones, salt)
    if erased + erased_lines:
        get_run_logger().info("%s: %d rows of erased subjects dropped", feed.name, erased + erased_lines)
    return Batch(rows, quarantine, batch.outcomes), erased + erased_lines


def _unchanged(lake: Lake, table: str, counts: dict[str, int]) -> StepReport:
    return StepReport(table, lake.version(table), lake.count(table) if lake.exists(table) else 0, counts, [])


def _with_total(lake: Lake, report: StepReport) -> StepReport:
    """Report the table's total rows, not just this run's."""
    return StepReport(
        report.table, report.version, lake.count(report.table), report.counts, report.validation
    )


@task(name="customer_landing", **TASK_OPTIONS)
def customer_landing(config: RunConfig, run_id: str, full_refresh: bool = False) -> list[StepReport]:
    """Ingest `customer/landing/*.json` into landing/customer_landing."""
    return ingest_feed(config, CUSTOMER, run_id, full_refresh)


@task(name="accelerometer_landing", **TASK_OPTIONS)
def accelerometer_landing(config: RunConfig, run_id: str, full_refresh: bool = False) -> list[StepReport]:
    """Ingest `accelerometer/landing/*.json` into landing/accelerometer_landing."""
    return ingest_feed(config, ACCELEROMETER, run_id, full_refresh)


@task(name="step_trainer_landing", **TASK_OPTIONS)
def step_trainer_landing(config: RunConfig, run_id: str, full_refresh: bool = False) -> list[StepReport]:
    """Ingest `step_trainer/landing/*.json` into landing/step_trainer_landing."""
    return ingest_feed(config, STEP_TRAINER, run_id, full_refresh)
