"""Is there anything to do? Landing files against the ingest log, derived tables against landing."""

from __future__ import annotations

from stedi.build import BUILD, BuildRecord
from stedi.config import RunConfig, subject_salt
from stedi.ingest.ledger import SeenFile, latest_entries, plan_ingest
from stedi.registry import REGISTRY
from stedi.storage import Lake, Landing
from stedi.subject import subject_id

LAST = REGISTRY.build_order()[-1]  # committed last: its newest record names the last complete build


def current_record(lake: Lake, config: RunConfig) -> BuildRecord:
    """What a build made now would record: policy, salt check and the landing tables' versions."""
    salt_check = subject_id("stedi-salt-check", subject_salt(config.lakehouse).value)[:12]
    versions = {t: lake.version(t) for t in (*REGISTRY.sources(), "quarantine")}
    return BuildRecord(config.policy.value, salt_check, versions)


def last_build(lake: Lake) -> BuildRecord | None:
    """The record of the last complete build (None when there is none)."""
    if not lake.exists(LAST):
        return None
    found = lake.build_info(LAST, BUILD)
    return BuildRecord.parse(found[1].get(BUILD)) if found else None


def nothing_to_do(config: RunConfig) -> bool:
    """True when no landing file is new or touched and the last complete build is of these tables.

    Cheap: a listing of the landing folders and a few small Delta reads; no Prefect, no GX.
    """
    lake = Lake.of(config)
    if not all(lake.exists(t) for t in ("ingest_log", *REGISTRY.sources(), *REGISTRY.build_order())):
        return False
    landing = Landing(config.landing, config.storage_options)
    log = lake.read("ingest_log", ["feed", "path", "size", "mtime_ns", "content_hash", "ingested_at"])
    for feed in REGISTRY.feeds:
        seen = [SeenFile(landing.display_name(f.path), f.size, f.mtime_ns) for f in landing.files(feed.name)]
        plan = plan_ingest(seen, latest_entries(log, feed.name))
        if plan.new or plan.suspect:
            return False
    return last_build(lake) == current_record(lake, config)
