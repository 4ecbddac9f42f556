"""Is there anything to do? Landing files against the ingest log, derived tables against landing."""

from __future__ import annotations

from stedi.config import RunConfig, subject_salt
from stedi.ingest.ledger import SeenFile, latest_entries, plan_ingest
from stedi.schemas import FEEDS
from stedi.state import BUILT_FROM, DERIVED_TABLES, SOURCE_TABLES, fingerprint
from stedi.storage import Lake, Landing
from stedi.subject import subject_id


def current_built_from(lake: Lake, config: RunConfig) -> str:
    """The fingerprint the derived tables must carry to be up to date with the landing tables."""
    salt_check = subject_id("stedi-salt-check", subject_salt(config.lakehouse).value)[:12]
    return fingerprint(config.policy.value, {t: lake.version(t) for t in SOURCE_TABLES}, salt_check)


def derived_up_to_date(lake: Lake, config: RunConfig) -> tuple[bool, str]:
    built_from = current_built_from(lake, config)
    return lake.commit_info(DERIVED_TABLES[-1]).get(BUILT_FROM) == built_from, built_from


def nothing_to_do(config: RunConfig) -> bool:
    """True when no landing file is new or touched and every derived table is up to date.

    Cheap: a listing of the landing folders and two small Delta reads; no Prefect, no GX.
    """
    lake = Lake.of(config)
    if not all(lake.exists(t) for t in ("ingest_log", *SOURCE_TABLES, *DERIVED_TABLES)):
        return False
    landing = Landing(config.landing, config.storage_options)
    log = lake.read("ingest_log", ["feed", "path", "size", "mtime_ns", "content_hash", "ingested_at"])
    for feed in FEEDS:
        seen = [SeenFile(landing.display_name(f.path), f.size, f.mtime_ns) for f in landing.files(feed.name)]
        plan = plan_ingest(seen, latest_entries(log, feed.name))
        if plan.new or plan.suspect:
            return False
    return derived_up_to_date(lake, config)[0]
