"""The three landing ingests: landing JSON files to landing Delta tables plus quarantine."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
from prefect import get_run_logger, task

from stedi.config import RunConfig, subject_salt
from stedi.ingest.lineage import quarantine_rows, with_lineage
from stedi.ingest.parse import ParsedFile, parse_file
from stedi.privacy.tombstones import drop_erased, drop_erased_lines, read_tombstones
from stedi.report import StepReport
from stedi.schemas import ACCELEROMETER, CUSTOMER, STEP_TRAINER, Feed
from stedi.storage import Lake, Landing
from tasks.options import TASK_OPTIONS
from tasks.publish import publish


def ingest_feed(config: RunConfig, feed: Feed) -> list[StepReport]:
    """Parse every landing file of `feed`, publish the landing table and the feed's quarantine rows."""
    logger = get_run_logger()
    landing = Landing(config.landing, config.storage_options)
    lake = Lake.of(config)
    ingested_at = datetime.now(UTC)
    parsed: list[tuple[str, ParsedFile]] = []
    for file in landing.files(feed.name):
        name = landing.display_name(file.path)
        parsed.append((name, parse_file(feed, landing.read_bytes(file.path), name)))
    tables = [with_lineage(feed, p, name, ingested_at) for name, p in parsed]
    rows = pa.concat_tables(tables) if tables else feed.landing_schema.empty_table()
    quarantined = quarantine_rows(feed, parsed, ingested_at)
    # Privacy (issue 5): drop the data of erased subjects, also when old landing files are re-delivered.
    tombstones = read_tombstones(lake)
    if len(tombstones):
        salt = subject_salt(config.lakehouse).value
        rows, erased = drop_erased(feed, rows, tombstones, salt)
        quarantined, erased_lines = drop_erased_lines(quarantined, tombstones, salt)
        logger.info("%s: %d rows of erased subjects dropped", feed.name, erased + erased_lines)
    # End of the privacy hook.
    counts = {
        "files": len(parsed),
        "files_on_fast_path": sum(p.fast_path for _, p in parsed),
        "quarantined": quarantined.num_rows,
    }
    logger.info(
        "%s: %d files, %d rows accepted, %d quarantined",
        feed.name,
        len(parsed),
        rows.num_rows,
        quarantined.num_rows,
    )
    main = publish(lake, feed.landing_table, rows, rows, config.policy, counts)
    bad = publish(
        lake,
        "quarantine",
        quarantined,
        quarantined,
        config.policy,
        {f"{feed.name}_quarantined": quarantined.num_rows},
        predicate=f"feed = '{feed.name}'",
    )
    return [main, bad]


@task(name="customer_landing", **TASK_OPTIONS)
def customer_landing(config: RunConfig) -> list[StepReport]:
    """Ingest `customer/landing/*.json` into landing/customer_landing."""
    return ingest_feed(config, CUSTOMER)


@task(name="accelerometer_landing", **TASK_OPTIONS)
def accelerometer_landing(config: RunConfig) -> list[StepReport]:
    """Ingest `accelerometer/landing/*.json` into landing/accelerometer_landing."""
    return ingest_feed(config, ACCELEROMETER)


@task(name="step_trainer_landing", **TASK_OPTIONS)
def step_trainer_landing(config: RunConfig) -> list[StepReport]:
    """Ingest `step_trainer/landing/*.json` into landing/step_trainer_landing."""
    return ingest_feed(config, STEP_TRAINER)
