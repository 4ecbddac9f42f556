"""The customer tables: small, so each build recomputes them whole and compares them with the last.

Which customers' decisions changed (consent, revocation, device records, having readings) is what
makes days of readings dirty: the keys returned here go to `dirty_days`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from prefect import task

from stedi.audit import audit_customer_curated, audit_customer_trusted
from stedi.build import BUILD, BuildRecord, commit_metadata
from stedi.config import RunConfig
from stedi.customer_inputs import customer_quarantine, customer_records
from stedi.policy import Policy
from stedi.registry import REGISTRY, resolve
from stedi.report import StepReport
from stedi.rules import RuleResult
from stedi.rules.customers import customer_curated, customer_trusted
from stedi.schemas import ACCELEROMETER
from stedi.storage import Lake
from tasks.audit_inputs import audit_facts
from tasks.options import TASK_OPTIONS
from tasks.plan import BuildPlan, changed_keys, key_column
from tasks.publish import publish


@dataclass(frozen=True)
class Decided:
    """A published customer table and the keys of customers it decides differently (None: unknown)."""

    report: StepReport
    changed: list[str] | None


def _at_build(lake: Lake, table: str, build: BuildRecord | None) -> pa.Table | None:
    """`table` as the build `build` published it; None when that version cannot be read any more."""
    if build is None or not lake.exists(table):
        return None
    wanted = build.to_json()
    for commit in lake.history(table):
        if commit.get(BUILD) == wanted:
            try:
                return lake.read(table, version=int(str(commit["version"])))
            except Exception:  # its files were vacuumed: nothing to compare with, every key counts
                return None
    return None


def _record_keys(lake: Lake, plan: BuildPlan) -> set[str] | None:
    """Keys of customer records added or removed since the last build (None: cannot tell)."""
    if plan.previous is None:
        return None
    since = plan.previous.versions.get("customer_landing")
    now = plan.record.versions.get("customer_landing")
    if since == now:
        return set()
    if since is None or now is None:
        return None
    before, after = lake.files("customer_landing", since), lake.files("customer_landing", now)
    if before - after:  # records removed or replaced: their rows are only in vacuumable files
        return None
    added = lake.scan("customer_landing", ["email"], files=after - before, version=now)
    keys = key_column(added["email"], Policy.parse(plan.record.policy))
    return {k for k in pc.unique(pc.drop_null(keys).combine_chunks()).to_pylist() if k is not None}


def _changed(old: pa.Table | None, new: pa.Table, policy: Policy, extra: set[str] | None) -> list[str] | None:
    if old is None or extra is None:
        return None
    keys = set(changed_keys(old, new, policy).to_pylist()) | extra
    return sorted(k for k in keys if k is not None)


WholeRule = Callable[[Lake, RunConfig], tuple[RuleResult, pa.Table]]


def customer_trusted_rule(lake: Lake, config: RunConfig) -> tuple[RuleResult, pa.Table]:
    """customer_landing -> customer_trusted: customers who consented to research (rule, then audit)."""
    result = customer_trusted(customer_records(lake), config.policy, customer_quarantine(lake))
    return result, audit_customer_trusted(result.table, audit_facts(lake, config.policy))


def distinct_users(lake: Lake) -> pa.Table:
    """The distinct `user` values of accelerometer_trusted: memory bounded by the customers."""
    seen = [pc.unique(b.column(0)) for b in lake.batches("accelerometer_trusted", ["user"])]
    users = pc.unique(pa.concat_arrays(seen)) if seen else pa.array([], pa.string())
    return pa.table({"user": users}, schema=pa.schema([ACCELEROMETER.schema.field("user")]))


def customer_curated_rule(lake: Lake, config: RunConfig) -> tuple[RuleResult, pa.Table]:
    """customer_trusted -> customer_curated: consenting customers with accelerometer data, one row each."""
    readings = distinct_users(lake)
    result = customer_curated(lake.read("customer_trusted"), readings, config.policy)
    return result, audit_customer_curated(result.table, audit_facts(lake, config.policy), readings)


@task(name="build_whole", task_run_name="{table}", **TASK_OPTIONS)
def build_whole(config: RunConfig, plan: BuildPlan, table: str) -> Decided:
    """Recompute a small derived table whole, validate and publish it, and say whose rows changed."""
    lake = Lake.of(config)
    before = _at_build(lake, table, plan.previous)
    rule: WholeRule = resolve(str(REGISTRY[table].rule))
    result, audit = rule(lake, config)
    report = publish(
        lake, table, result.table, audit, config.policy, result.counts,
        metadata=commit_metadata(plan.record, result.counts),
    )  # fmt: skip
    # New or changed customer records change device ownership even where no trusted row moves.
    records = _record_keys(lake, plan) if "customer_landing" in REGISTRY[table].inputs else set()
    return Decided(report, _changed(before, result.table, config.policy, records))
