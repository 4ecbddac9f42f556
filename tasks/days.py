"""The derived reading tables, built a unit of days at a time on any worker.

`build_days` is one parametrized task: it reads exactly the input versions it is given, applies
the table's rule and audit day by day, validates the unit's rows with the table's suite once, and
writes one Parquet file per day into the table's location. Nothing is committed here: the flow
commits each table once (`commit_table`), so a failed unit leaves every table as it was.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Any, Literal, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
from prefect import get_run_logger, task

from stedi import validation_pool
from stedi.audit import (
    CustomerFacts,
    audit_accelerometer_trusted,
    audit_machine_learning_curated,
    audit_schema,
    audit_step_trainer_trusted,
)
from stedi.build import (
    APPENDED,
    COUNTS,
    DAY_COUNTS,
    DAYS,
    FULL,
    BuildRecord,
    add_counts,
    commit_metadata,
    counts_from,
    day_counts_from,
    day_key,
)
from stedi.config import RunConfig, subject_salt
from stedi.policy import Policy
from stedi.registry import REGISTRY, resolve
from stedi.report import StepReport
from stedi.rules import RuleResult
from stedi.rules.curated import curated_subjects, machine_learning_curated
from stedi.rules.readings import accelerometer_trusted, device_owners, step_trainer_trusted
from stedi.schemas import ACCELEROMETER, DAY, MS_PER_DAY, STEP_TRAINER
from stedi.storage import Lake, PartFile
from stedi.validation import Outcome, ValidationReport, validate
from tasks.audit_inputs import audit_facts
from tasks.options import TASK_OPTIONS

T = TypeVar("T")
Part = Literal["all", "new", "old"]  # of a day's rows: every file, this build's new files, the others

# Values every unit of a build needs (customer tables, the audits' customer facts, device owners,
# the salt, subject ids), kept by the worker process between units: computed once per worker and
# build instead of once per unit. Keys hold the lakehouse, the input versions and the salt check,
# so a long-lived (Dask) worker never serves one build's values to another.
_SHARED: dict[tuple[object, ...], Any] = {}
_SHARED_AT_MOST = 16


def shared(key: tuple[object, ...], compute: Callable[[], T]) -> T:
    """The value under `key`, computed on first use in this process."""
    if key not in _SHARED:
        if len(_SHARED) >= _SHARED_AT_MOST:
            _SHARED.clear()
        _SHARED[key] = compute()
    value: T = _SHARED[key]
    return value


@dataclass(frozen=True)
class DayUnit:
    """Days of one table that one task computes, and the versions of the inputs it reads."""

    table: str
    days: list[date]
    versions: dict[str, int | None]
    salt_check: str = ""  # the build's salt check: a worker never reuses another salt's values
    # Set when the days only gain rows: per input table, per ISO day, the files holding its new rows.
    appended: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    @property
    def appending(self) -> bool:
        return bool(self.appended)

    @property
    def label(self) -> str:
        first, last = self.days[0].isoformat(), self.days[-1].isoformat()
        return first if first == last else f"{first}..{last}"


@dataclass(frozen=True)
class UnitResult:
    """What a unit wrote (uncommitted files), its counts per day and its validation outcomes."""

    table: str
    files: list[PartFile]
    day_counts: dict[str, dict[str, int]]
    outcomes: list[Outcome] = field(default_factory=list)
    rows: int = 0
    validation_s: float = 0.0
    written: dict[str, str] = field(default_factory=dict)  # ISO day -> the file written for it


@dataclass(frozen=True)
class Inputs:
    """What a unit reads: days of its reading inputs and, whole, its small inputs (customer tables)."""

    config: RunConfig
    lake: Lake
    unit: DayUnit
    tables: dict[str, pa.Table]
    datasets: dict[str, pads.Dataset] = field(default_factory=dict)  # one log replay per table

    @property
    def policy(self) -> Policy:
        return self.config.policy

    def day(
        self,
        table: str,
        day: date,
        columns: list[str],
        part: Part = "all",
        where: pc.Expression | None = None,
    ) -> pa.Table:
        """One day of a reading table, at the unit's version of it: all its rows, or (for a unit
        that appends) only those of the files this build added ("new") or only the others ("old")."""
        spec = REGISTRY[table]
        if table not in self.datasets:
            self.datasets[table] = self.lake.dataset(table, self.unit.versions.get(table))
        data = self.datasets[table]
        if part != "all":
            data = files_of(data, self.unit.appended.get(table, {}).get(day.isoformat(), []), part == "new")
        if spec.feed is not None:  # landing: partitioned by day
            on_day = pc.field(DAY) == pa.scalar(day, pa.date32())
        else:  # derived: one file per day, found by the statistics of the time column
            start = (day - date(1970, 1, 1)).days * MS_PER_DAY
            time = pc.field(str(spec.time_column))
            on_day = (time >= start) & (time < start + MS_PER_DAY)
        if where is not None:
            on_day = on_day & where
        return data.to_table(columns=columns, filter=on_day, use_threads=self.lake.local)

    def new(self, table: str, day: date, columns: list[str]) -> pa.Table:
        """The day's rows a rule reads from its main input: only the new ones when appending."""
        return self.day(table, day, columns, "new" if self.unit.appending else "all")

    def facts(self, salt: bytes | None = None) -> CustomerFacts:
        """What the audits check rows against (consent, device ownership), once per worker and build."""
        versions = (self.lake.version("customer_landing"), self.lake.version("quarantine"))
        key = ("facts", *self.basis, salt is not None, *versions)
        return shared(key, lambda: audit_facts(self.lake, self.policy, salt))

    @property
    def basis(self) -> tuple[object, ...]:
        return (self.config.lakehouse, self.policy.value, self.unit.salt_check)

    def once(self, name: str, compute: Callable[[], T]) -> T:
        """A value computed once per worker and build of the unit's input versions (owners, the salt)."""
        return shared((name, *self.basis, *sorted(self.unit.versions.items())), compute)


DayRule = Callable[[Inputs, date], tuple[RuleResult, pa.Table]]


def files_of(data: pads.Dataset, paths: list[str], inside: bool) -> pads.Dataset:
    """The part of a table version's dataset in the files `paths` (table-relative), or outside them."""
    wanted = set(paths)
    fragments = [
        f
        for f in data.get_fragments()
        if any(f.path == p or f.path.endswith("/" + p) for p in wanted) is inside
    ]
    return pads.FileSystemDataset(fragments, data.schema, data.format, data.filesystem)


def accelerometer_trusted_day(inputs: Inputs, day: date) -> tuple[RuleResult, pa.Table]:
    """accelerometer_landing -> accelerometer_trusted for one day (rule, then its audit)."""
    readings = inputs.new("accelerometer_landing", day, ACCELEROMETER.schema.names)
    trusted = inputs.tables["customer_trusted"]
    result = accelerometer_trusted(readings, trusted, inputs.policy)
    return result, audit_accelerometer_trusted(result.table, inputs.facts())


def step_trainer_trusted_day(inputs: Inputs, day: date) -> tuple[RuleResult, pa.Table]:
    """step_trainer_landing -> step_trainer_trusted for one day (rule, then its audit)."""
    steps = inputs.new("step_trainer_landing", day, STEP_TRAINER.schema.names)
    customers, curated = inputs.tables["customer_landing"], inputs.tables["customer_curated"]
    ownership = None
    if inputs.policy is Policy.STRICT:
        ownership = inputs.once("owners", lambda: device_owners(customers))  # sorts every customer record
    result = step_trainer_trusted(steps, customers, curated, inputs.policy, ownership)
    return result, audit_step_trainer_trusted(result.table, inputs.facts(), curated)


def machine_learning_curated_day(inputs: Inputs, day: date) -> tuple[RuleResult, pa.Table]:
    """step_trainer_trusted + accelerometer_trusted -> machine_learning_curated for one day.

    A unit that appends joins the new step readings with every reading of the day, and the
    earlier step readings with the new readings: exactly the join's new rows.
    """
    step_columns, reading_columns = STEP_TRAINER.schema.names, ACCELEROMETER.schema.names
    if not inputs.unit.appending:
        steps = inputs.day("step_trainer_trusted", day, step_columns)
        return _ml_day(inputs, steps, inputs.day("accelerometer_trusted", day, reading_columns))
    new_steps = inputs.day("step_trainer_trusted", day, step_columns, "new")
    new_readings = inputs.day("accelerometer_trusted", day, reading_columns, "new")
    # Only rows of a time the other side's new rows have can join them.
    times = pc.unique(new_steps["sensorReadingTime"])
    readings = inputs.day(
        "accelerometer_trusted", day, reading_columns, where=pc.field("timestamp").isin(times)
    )
    times = pc.unique(new_readings["timestamp"])
    where = pc.field("sensorReadingTime").isin(times)
    steps = inputs.day("step_trainer_trusted", day, step_columns, "old", where)
    result = _ml_rule(inputs, new_steps, readings)
    more = _ml_rule(inputs, steps, new_readings)
    counts = result.counts | {"rows": result.counts["rows"] + more.counts["rows"]}
    table = pa.concat_tables([result.table, more.table])
    # One audit of both: it checks each row against the readings it can be built from.
    every_step, every_reading = (
        pa.concat_tables([new_steps, steps]),
        pa.concat_tables([readings, new_readings]),
    )
    salt = inputs.once("salt", lambda: subject_salt(inputs.config.lakehouse).value)
    audit = audit_machine_learning_curated(table, inputs.facts(salt), every_step, every_reading)
    return RuleResult(table, counts), audit


def _ml_day(inputs: Inputs, steps: pa.Table, readings: pa.Table) -> tuple[RuleResult, pa.Table]:
    salt = inputs.once("salt", lambda: subject_salt(inputs.config.lakehouse).value)
    result = _ml_rule(inputs, steps, readings)
    return result, audit_machine_learning_curated(result.table, inputs.facts(salt), steps, readings)


def _ml_rule(inputs: Inputs, steps: pa.Table, readings: pa.Table) -> RuleResult:
    salt = inputs.once("salt", lambda: subject_salt(inputs.config.lakehouse).value)
    customers, curated = inputs.tables["customer_landing"], inputs.tables["customer_curated"]
    ownership = inputs.once("owners", lambda: device_owners(customers))  # who owned a device when
    subjects = None
    if inputs.policy is Policy.STRICT:  # every curated customer hashed once, not once per day
        subjects = inputs.once("subjects", lambda: curated_subjects(curated, salt))
    return machine_learning_curated(steps, readings, curated, inputs.policy, salt, ownership, subjects)


def _inputs(config: RunConfig, unit: DayUnit) -> Inputs:
    """The unit's whole inputs (tables without a time column, such as the customer tables) read now."""
    lake = Lake.of(config)
    tables: dict[str, pa.Table] = {}
    for name in REGISTRY[unit.table].inputs:
        spec = REGISTRY[name]
        if spec.time_column is None:
            columns = spec.feed.schema.names if spec.feed is not None else None  # no lineage columns
            version = unit.versions.get(name)
            key = ("table", config.lakehouse, name, version if version is not None else lake.version(name))
            tables[name] = shared(key, partial(lake.read, name, columns, version=version))
    return Inputs(config, lake, unit, tables)


@task(name="prepare_worker", **TASK_OPTIONS)
def prepare_worker(index: int) -> int:
    """Import the rules, storage and Great Expectations in a worker before its first unit arrives."""
    from stedi.validation import _batch_definition

    _batch_definition()
    return index


@task(name="build_days", task_run_name="{unit.table}-{unit.label}", **TASK_OPTIONS)
def build_days(config: RunConfig, unit: DayUnit) -> UnitResult:
    """Compute, audit and validate a unit of days of one table; write one Parquet file per day."""
    inputs = _inputs(config, unit)
    rule: DayRule = resolve(str(REGISTRY[unit.table].rule))
    kept: list[tuple[date, pa.Table]] = []
    audits: list[pa.Table] = []
    day_counts: dict[str, dict[str, int]] = {}
    for day in unit.days:
        result, audit = rule(inputs, day)
        kept.append((day, result.table))
        audits.append(audit)
        day_counts[day_key(day)] = result.counts
    spec = REGISTRY[unit.table]
    frame = pa.concat_tables(audits) if audits else audit_schema(unit.table, spec.schema).empty_table()
    report = validate(unit.table, frame, config.policy, map_parts=validation_pool.map_parts)
    report.raise_if_blocking()  # before any file is written: nothing to clean up
    files, written = [], {}
    for day, table in kept:
        if table.num_rows:
            files.append(inputs.lake.write_part(unit.table, table))
            written[day_key(day)] = files[-1].path
    rows = sum(t.num_rows for _, t in kept)
    return UnitResult(unit.table, files, day_counts, report.outcomes, rows, report.seconds, written)


def combine(table: str, results: list[UnitResult]) -> ValidationReport:
    """The units' outcomes as one report: unexpected counts added up, expectation by expectation."""
    merged: dict[tuple[str, str, str], Outcome] = {}
    for result in results:
        for o in result.outcomes:
            key = (o.expectation, o.column, o.why)
            seen = merged.get(key)
            if seen is None:
                merged[key] = o
                continue
            unexpected = None if seen.unexpected is None else seen.unexpected + (o.unexpected or 0)
            merged[key] = Outcome(
                o.table, o.expectation, o.column, o.severity, seen.success and o.success, unexpected, o.why,
                (seen.sampled_rows or 0) + (o.sampled_rows or 0) or None,
            )  # fmt: skip
    rows = sum(r.rows for r in results)
    return ValidationReport(table, rows, list(merged.values()), sum(r.validation_s for r in results))


@task(name="commit_table", task_run_name="commit-{table}", **TASK_OPTIONS)
def commit_table(
    config: RunConfig,
    table: str,
    record: BuildRecord,
    full: bool,
    days: list[date],
    removed: list[str],
    results: list[UnitResult],
    appended: list[date] | None = None,
) -> StepReport:
    """Replace the recomputed days of `table` in one commit: their old files out, the units' files in
    (for `appended` days the files only add rows).

    The commit carries the build record and the counts per day, so the next build knows what
    these rows were made from and can total counts without reading rows.
    """
    lake = Lake.of(config)
    previous: Mapping[str, object] = {}
    if lake.exists(table) and not full:  # a full build replaces every day: no count is kept
        found = lake.build_info(table, DAY_COUNTS)
        previous = found[1] if found else {}
    per_day = {d: c for d, c in day_counts_from(previous).items() if d not in {day_key(x) for x in days}}
    fresh: dict[str, dict[str, int]] = {}
    for result in results:
        fresh |= result.day_counts
    for day in appended or []:  # the day's earlier counts plus those of its new rows
        key = day_key(day)
        if key in fresh and key in per_day:
            fresh[key] = add_counts([per_day[key], fresh[key]])
    per_day |= {d: c for d, c in fresh.items() if any(c.values())}
    totals = add_counts(per_day.values())
    level = add_counts(fresh.values())  # whole-table counts (shared serials) come from this build
    totals |= {k: v for k, v in level.items() if k not in totals or k in {"shared_serials"}}
    report = combine(table, results)
    report.raise_if_blocking()
    files = [f for r in results for f in r.files]
    metadata = commit_metadata(record, totals, per_day) | {
        FULL: json.dumps(full),
        DAYS: str(len(days)),
        APPENDED: str(len(appended or [])),
    }
    version = lake.commit_files(table, files, removed, metadata)
    rows = lake.count(table)
    logger = get_run_logger()
    logger.info(
        "%s: %d day(s) recomputed and %d appended to in %d unit(s), %d file(s) replaced by %d; "
        "%d rows, Delta version %d",
        table, len(days), len(appended or []), len(results), len(removed), len(files), rows, version,
    )  # fmt: skip
    for outcome in report.warnings:
        logger.warning("%s: %s", table, outcome.describe())
    return StepReport(table, version, rows, totals, report.outcomes, report.seconds)


@task(name="describe_derived_tables", **TASK_OPTIONS)
def describe_derived_tables(config: RunConfig) -> list[StepReport]:
    """The derived tables as they stand, with the counts their last build recorded."""
    lake = Lake.of(config)
    reports = []
    for table in REGISTRY.build_order():
        found = lake.build_info(table, COUNTS)
        counts = counts_from(found[1]) if found else {}
        reports.append(StepReport(table, lake.version(table), lake.count(table), counts, []))
    return reports
