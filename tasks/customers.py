"""The customer tables: small, so each build recomputes them whole and compares them with the last.

Which customers' decisions changed (consent, revocation, device records, having readings) is what
makes days of readings dirty: the keys returned here go to `dirty_days`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from prefect import task

from stedi.audit import audit_customer_curated, audit_customer_trusted
from stedi.build import BUILD, BuildRecord, commit_metadata
from stedi.config import RunConfig
from stedi.policy import Policy
from stedi.report import StepReport
from stedi.rules.customers import customer_curated, customer_trusted
from stedi.schemas import ACCELEROMETER, CUSTOMER
from stedi.storage import Lake
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


@task(name="customer_landing_to_trusted", **TASK_OPTIONS)
def customer_landing_to_trusted(config: RunConfig, plan: BuildPlan) -> Decided:
    """customer_landing -> customer_trusted: customers who consented to research."""
    lake = Lake.of(config)
    before = _at_build(lake, "customer_trusted", plan.previous)
    result = customer_trusted(lake.read("customer_landing", CUSTOMER.schema.names), config.policy)
    audit = audit_customer_trusted(result.table, config.policy)
    report = publish(
        lake, "customer_trusted", result.table, audit, config.policy, result.counts,
        metadata=commit_metadata(plan.record, result.counts),
    )  # fmt: skip
    return Decided(report, _changed(before, result.table, config.policy, _record_keys(lake, plan)))


def distinct_users(lake: Lake) -> pa.Table:
    """The distinct `user` values of accelerometer_trusted: memory bounded by the customers."""
    seen = [pc.unique(b.column(0)) for b in lake.batches("accelerometer_trusted", ["user"])]
    users = pc.unique(pa.concat_arrays(seen)) if seen else pa.array([], pa.string())
    return pa.table({"user": users}, schema=pa.schema([ACCELEROMETER.schema.field("user")]))


@task(name="customer_trusted_to_curated", **TASK_OPTIONS)
def customer_trusted_to_curated(config: RunConfig, plan: BuildPlan) -> Decided:
    """customer_trusted -> customer_curated: consenting customers with accelerometer data, one row each."""
    lake = Lake.of(config)
    before = _at_build(lake, "customer_curated", plan.previous)
    readings = distinct_users(lake)
    result = customer_curated(lake.read("customer_trusted"), readings, config.policy)
    audit = audit_customer_curated(result.table, readings, config.policy)
    report = publish(
        lake, "customer_curated", result.table, audit, config.policy, result.counts,
        metadata=commit_metadata(plan.record, result.counts),
    )  # fmt: skip
    return Decided(report, _changed(before, result.table, config.policy, set()))
