"""Decide whether the trusted and curated tables must be rebuilt, and report them when they need not."""

from __future__ import annotations

from dataclasses import dataclass

from prefect import get_run_logger, task

from stedi.config import RunConfig
from stedi.freshness import derived_up_to_date
from stedi.increments import append_blocker
from stedi.report import StepReport
from stedi.state import DERIVED_TABLES, counts_from, parse_fingerprint
from stedi.storage import Lake
from tasks.options import TASK_OPTIONS


@dataclass(frozen=True)
class DerivedState:
    """What the derived tables need: nothing, an append extending the build `base`, or a full rebuild."""

    built_from: str
    stale: bool
    base: str | None = None

    @property
    def appending(self) -> bool:
        return self.stale and self.base is not None

    def source_version(self, table: str) -> int:
        """The version of a landing table that the extended build had absorbed."""
        parsed = parse_fingerprint(self.base)
        version = parsed.versions.get(table) if parsed else None
        if version is None:
            raise LookupError(f"the build being extended did not record {table}")
        return version


@task(name="plan_derived_tables", **TASK_OPTIONS)
def plan_derived_tables(config: RunConfig, full_refresh: bool = False) -> DerivedState:
    """Stale when landing, policy or salt moved since the last complete build (or it never finished).

    When only new landing rows arrived and no customer record changes a decision about old rows,
    the derived tables append what the new rows add; otherwise they are rebuilt in full.
    """
    logger = get_run_logger()
    lake = Lake.of(config)
    up_to_date, built_from = derived_up_to_date(lake, config)
    if up_to_date and not full_refresh:
        logger.info("trusted and curated tables are up to date")
        return DerivedState(built_from, False)
    base, reason = (None, "full refresh") if full_refresh else append_blocker(lake, config.policy, built_from)
    if base is None:
        logger.info("trusted and curated tables are stale: rebuilding in full (%s)", reason)
    else:
        logger.info("trusted and curated tables are stale: appending what the new landing rows add")
    return DerivedState(built_from, True, base)


@task(name="describe_derived_tables", **TASK_OPTIONS)
def describe_derived_tables(config: RunConfig) -> list[StepReport]:
    """The derived tables as they stand, with the counts their last build recorded."""
    lake = Lake.of(config)
    return [
        StepReport(t, lake.version(t), lake.count(t), counts_from(lake.commit_info(t)), [])
        for t in DERIVED_TABLES
    ]
