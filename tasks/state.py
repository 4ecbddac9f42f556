"""Decide whether the trusted and curated tables must be rebuilt, and report them when they need not."""

from __future__ import annotations

from dataclasses import dataclass

from prefect import get_run_logger, task

from stedi.config import RunConfig
from stedi.freshness import derived_up_to_date
from stedi.report import StepReport
from stedi.state import DERIVED_TABLES, counts_from
from stedi.storage import Lake
from tasks.options import TASK_OPTIONS


@dataclass(frozen=True)
class DerivedState:
    built_from: str
    stale: bool


@task(name="plan_derived_tables", **TASK_OPTIONS)
def plan_derived_tables(config: RunConfig, full_refresh: bool = False) -> DerivedState:
    """Stale when landing, policy or salt moved since the last complete build (or it never finished)."""
    up_to_date, built_from = derived_up_to_date(Lake.of(config), config)
    stale = full_refresh or not up_to_date
    get_run_logger().info("trusted and curated tables are %s", "stale: rebuilding" if stale else "up to date")
    return DerivedState(built_from, stale)


@task(name="describe_derived_tables", **TASK_OPTIONS)
def describe_derived_tables(config: RunConfig) -> list[StepReport]:
    """The derived tables as they stand, with the counts their last build recorded."""
    lake = Lake.of(config)
    return [
        StepReport(t, lake.version(t), lake.count(t), counts_from(lake.commit_info(t)), [])
        for t in DERIVED_TABLES
    ]
