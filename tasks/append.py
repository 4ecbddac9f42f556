"""The append path of the five derived tables: absorb only what the new landing rows add.

Used when `plan_derived_tables` found that only landing rows were added and no customer record
changes a decision about old rows (see stedi/increments.py). Every step reads what its inputs gained
since the build being extended (the data files added after that build's commit), runs the same rule
as the full build on those rows, validates them and appends them in one commit that records both the
new fingerprint and the build it extends. A step whose table already carries the new fingerprint
(a rerun after a crash) commits nothing, so each table absorbs each landing row exactly once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from stedi.audit import (
    audit_accelerometer_trusted,
    audit_customer_curated,
    audit_customer_trusted,
    audit_step_trainer_trusted,
)
from stedi.config import RunConfig, subject_salt
from stedi.customer_inputs import customer_quarantine, customer_records
from stedi.increments import base_counts, base_version, new_rows, old_rows_of
from stedi.policy import Policy
from stedi.report import StepReport
from stedi.rules.curated import machine_learning_curated
from stedi.rules.customers import customer_curated, customer_trusted
from stedi.rules.increments import absorb, customer_keys, key_column
from stedi.rules.readings import accelerometer_trusted, device_owners, step_trainer_trusted
from stedi.schemas import CUSTOMER
from stedi.state import BUILT_FROM, counts_from
from stedi.storage import Lake
from tasks.publish import publish
from tasks.state import DerivedState

READING = ["user", "timestamp", "x", "y", "z"]
STEP = ["sensorReadingTime", "serialNumber", "distanceFromObject"]


def absorbed(lake: Lake, table: str, plan: DerivedState) -> StepReport | None:
    """The table's report when it already absorbed this run's landing rows (a rerun after a crash)."""
    info = lake.commit_info(table)
    if info.get(BUILT_FROM) != plan.built_from:
        return None
    return StepReport(table, lake.version(table), lake.count(table), counts_from(info), [])


AppendStep = Callable[[RunConfig, DerivedState], StepReport]


def unless_absorbed(table: str) -> Callable[[AppendStep], AppendStep]:
    """Run an append step only if its table has not absorbed this run's landing rows yet."""

    def wrap(step: AppendStep) -> AppendStep:
        @functools.wraps(step)
        def run(config: RunConfig, plan: DerivedState) -> StepReport:
            return absorbed(Lake.of(config), table, plan) or step(config, plan)

        return run

    return wrap


def _append(
    lake: Lake,
    table: str,
    data: pa.Table,
    audit: pa.Table,
    config: RunConfig,
    counts: dict[str, int],
    plan: DerivedState,
) -> StepReport:
    return publish(lake, table, data, audit, config.policy, counts, plan.built_from, base=plan.base)


def _gained(lake: Lake, table: str, plan: DerivedState, columns: list[str] | None = None) -> pa.Table:
    """Rows `table` gained since the build being extended (this run's append, if already made)."""
    assert plan.base is not None
    return new_rows(lake, table, base_version(lake, table, plan.base), columns)


@unless_absorbed("customer_trusted")
def append_customer_trusted(config: RunConfig, plan: DerivedState) -> StepReport:
    """customer_trusted gains the new consenting customers (existing ones are unchanged, as planned)."""
    lake = Lake.of(config)
    result = customer_trusted(customer_records(lake), config.policy, customer_quarantine(lake))
    stored = lake.read("customer_trusted")
    known = customer_keys(stored, config.policy)
    added = result.table.filter(pc.invert(pc.is_in(key_column(result.table, config.policy), value_set=known)))
    # Uniqueness is a property of the whole table: validate it all (it is small), commit the new rows.
    audit = audit_customer_trusted(pa.concat_tables([stored, added]), config.policy)
    counts = result.counts | {"run_customers_added": added.num_rows}
    return _append(lake, "customer_trusted", added, audit, config, counts, plan)


@unless_absorbed("accelerometer_trusted")
def append_accelerometer_trusted(config: RunConfig, plan: DerivedState) -> StepReport:
    """New readings of consenting owners, plus old readings of customers who are new in customer_trusted."""
    lake = Lake.of(config)
    customers = lake.read("customer_trusted")
    new_keys = customer_keys(_gained(lake, "customer_trusted", plan), config.policy)
    version = plan.source_version("accelerometer_landing")
    fresh = new_rows(lake, "accelerometer_landing", version, READING)
    strict = config.policy is Policy.STRICT
    old = old_rows_of(lake, "accelerometer_landing", version, "user", new_keys, strict, READING)
    result = accelerometer_trusted(pa.concat_tables([fresh, old]), customers, config.policy)
    audit = audit_accelerometer_trusted(result.table, customers, config.policy)
    base = base_counts(lake, "accelerometer_trusted", str(plan.base))
    counts = absorb(base, result.counts, old.num_rows, "of_non_consenting_owners")
    return _append(lake, "accelerometer_trusted", result.table, audit, config, counts, plan)


@unless_absorbed("customer_curated")
def append_customer_curated(config: RunConfig, plan: DerivedState) -> StepReport:
    """customer_curated gains the consenting customers whose first trusted readings arrived."""
    lake = Lake.of(config)
    trusted = lake.read("customer_trusted")
    stored = lake.read("customer_curated")
    readings = _gained(lake, "accelerometer_trusted", plan, ["user"])
    candidates = customer_curated(trusted, readings, config.policy).table
    known = customer_keys(stored, config.policy)
    added = candidates.filter(pc.invert(pc.is_in(key_column(candidates, config.policy), value_set=known)))
    # The stored rows kept their readings: accelerometer_trusted only gained rows since they passed.
    kept = stored.append_column("_key", key_column(stored, config.policy)).append_column(
        "_has_readings", pa.repeat(pa.scalar(True), stored.num_rows)
    )
    audit = pa.concat_tables([kept, audit_customer_curated(added, readings, config.policy)])
    curated = customer_keys(pa.concat_tables([stored, added]), config.policy)
    with_readings = int(pc.sum(pc.is_in(key_column(trusted, config.policy), value_set=curated)).as_py() or 0)
    counts = {
        "consenting_without_readings": trusted.num_rows - with_readings,
        "run_customers_added": added.num_rows,
    }
    return _append(lake, "customer_curated", added, audit, config, counts, plan)


def _newly_curated_serials(lake: Lake, customers: pa.Table, plan: DerivedState, policy: Policy) -> pa.Array:
    """Devices whose readings a newly curated customer now makes trusted."""
    added = _gained(lake, "customer_curated", plan)
    if policy is Policy.UDACITY:
        before = lake.read("customer_curated", version=base_version(lake, "customer_curated", str(plan.base)))
        serials = pc.unique(pc.drop_null(added["serialNumber"]).combine_chunks())
        return serials.filter(pc.invert(pc.is_in(serials, value_set=before["serialNumber"].combine_chunks())))
    owners = device_owners(customers).segments
    owned = owners.filter(pc.is_in(owners["_key"], value_set=customer_keys(added, policy)))
    return owned["serialNumber"].combine_chunks()


@unless_absorbed("step_trainer_trusted")
def append_step_trainer_trusted(config: RunConfig, plan: DerivedState) -> StepReport:
    """New step readings of curated devices, plus old readings of newly curated customers' devices."""
    lake = Lake.of(config)
    customers = lake.read("customer_landing", CUSTOMER.schema.names)
    curated = lake.read("customer_curated")
    serials = _newly_curated_serials(lake, customers, plan, config.policy)
    version = plan.source_version("step_trainer_landing")
    fresh = new_rows(lake, "step_trainer_landing", version, STEP)
    old = old_rows_of(lake, "step_trainer_landing", version, "serialNumber", serials, True, STEP)
    result = step_trainer_trusted(pa.concat_tables([fresh, old]), customers, curated, config.policy)
    audit = audit_step_trainer_trusted(result.table, curated, config.policy)
    base = base_counts(lake, "step_trainer_trusted", str(plan.base))
    counts = absorb(base, result.counts, old.num_rows, "not_of_curated_devices")
    return _append(lake, "step_trainer_trusted", result.table, audit, config, counts, plan)


def _at_times(lake: Lake, table: str, version: int, column: str, times: pa.Array) -> pa.Table:
    """Rows of a time-clustered table version at any of `times`; files outside their range stay closed."""
    if not len(times):
        return lake.scan(table, filter=pc.scalar(False), version=version)
    field = pc.field(column)
    low, high = pc.min_max(times).values()
    wanted = (field >= low) & (field <= high) & field.isin(times)
    return lake.scan(table, filter=wanted, version=version)


@unless_absorbed("machine_learning_curated")
def append_machine_learning_curated(config: RunConfig, plan: DerivedState) -> StepReport:
    """New step rows with every trusted reading of their time, and old step rows with the new readings."""
    lake = Lake.of(config)
    base = str(plan.base)
    curated = lake.read("customer_curated")
    ownership = device_owners(lake.read("customer_landing", CUSTOMER.schema.names))
    salt = subject_salt(config.lakehouse).value
    steps_version = base_version(lake, "step_trainer_trusted", base)
    readings_version = base_version(lake, "accelerometer_trusted", base)
    steps = new_rows(lake, "step_trainer_trusted", steps_version)
    readings = new_rows(lake, "accelerometer_trusted", readings_version)
    step_times = pc.unique(steps["sensorReadingTime"].combine_chunks())
    reading_times = pc.unique(readings["timestamp"].combine_chunks())
    old_readings = _at_times(lake, "accelerometer_trusted", readings_version, "timestamp", step_times)
    old_steps = _at_times(lake, "step_trainer_trusted", steps_version, "sensorReadingTime", reading_times)
    joined = [
        machine_learning_curated(
            steps, pa.concat_tables([old_readings, readings]), curated, config.policy, salt, ownership
        ).table,
        machine_learning_curated(old_steps, readings, curated, config.policy, salt, ownership).table,
    ]
    table = pa.concat_tables(joined)
    counts = {
        "step_readings": lake.count("step_trainer_trusted"),
        "rows": lake.count("machine_learning_curated") + table.num_rows,
        "run_rows": table.num_rows,
        "run_step_readings": steps.num_rows,
    }
    return _append(lake, "machine_learning_curated", table, table, config, counts, plan)
