"""Decide whether the trusted and curated tables must be rebuilt, and report them when they need not."""

from __future__ import annotations

from dataclasses import dataclass

from prefect import get_run_logger, task

from stedi.config import RunConfig, subject_salt
from stedi.report import StepReport
from stedi.state import BUILT_FROM, DERIVED_TABLES, SOURCE_TABLES, counts_from, fingerprint
from stedi.storage import Lake
from stedi.subject import subject_id
from tasks.options import TASK_OPTIONS


@dataclass(frozen=True)
class DerivedState:
    built_from: str
    stale: bool


@task(name="plan_derived_tables", **TASK_OPTIONS)
def plan_derived_tables(config: RunConfig, full_refresh: bool = False) -> DerivedState:
    """Stale when landing, policy or salt moved since the last complete build (or it never finished)."""
    lake = Lake.of(config)
    salt_check = subject_id("stedi-salt-check", subject_salt(config.lakehouse).value)[:12]
    built_from = fingerprint(config.policy.value, {t: lake.version(t) for t in SOURCE_TABLES}, salt_check)
    last = lake.commit_info(DERIVED_TABLES[-1]).get(BUILT_FROM)
    stale = full_refresh or last != built_from
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
