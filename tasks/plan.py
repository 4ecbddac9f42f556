"""Plan a build of the derived tables: up to date, or which days of readings are dirty and why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
from prefect import get_run_logger, task

from stedi.build import BUILD, BuildRecord, close_over_files, days_from_ms, work_units
from stedi.config import RunConfig
from stedi.freshness import current_record, last_build
from stedi.policy import Policy
from stedi.registry import REGISTRY, Subject
from stedi.rules.keys import normalise_email
from stedi.schemas import DAY
from stedi.storage import Lake, PartitionChanges
from tasks.days import DayUnit
from tasks.options import TASK_OPTIONS


def reading_sources() -> list[str]:
    """The landing tables of reading feeds (asked each time: tables can be registered at run time)."""
    return [t for t in REGISTRY.sources() if REGISTRY[t].time_column]


@dataclass(frozen=True)
class BuildPlan:
    """What this run's build starts from.

    `previous` is the last complete build whose rows can be kept (None: rebuild every day);
    `landing_days` the days of each landing reading table whose rows changed since then.
    """

    record: BuildRecord
    previous: BuildRecord | None
    up_to_date: bool
    reason: str
    landing_days: dict[str, list[date]] = field(default_factory=dict)
    # Per landing reading table, its changed days that only gained rows, with the files holding them.
    appended: dict[str, dict[date, list[str]]] = field(default_factory=dict)
    appended_rows: int = 0  # rows of those files

    @property
    def full(self) -> bool:
        return self.previous is None


def landing_days(lake: Lake, table: str, version: int | None = None) -> dict[date, int]:
    """Rows per day of a landing reading table, from its log (no data file is read)."""
    if not lake.exists(table):
        return {}
    actions = pa.table(lake.delta(table, version).get_add_actions(flatten=True))
    days: dict[date, int] = {}
    column = f"partition.{DAY}"
    if column not in actions.column_names:
        return {}
    counts = actions.column("num_records").to_pylist()
    for day, rows in zip(actions.column(column).to_pylist(), counts, strict=True):
        key = day if isinstance(day, date) else date.fromisoformat(str(day))
        days[key] = days.get(key, 0) + int(rows or 0)
    return days


@task(name="plan_build", **TASK_OPTIONS)
def plan_build(config: RunConfig, full_refresh: bool = False) -> BuildPlan:
    """Compare the landing tables with the last complete build: nothing to do, some days, or all."""
    logger = get_run_logger()
    lake = Lake.of(config)
    record = current_record(lake, config)
    previous = last_build(lake)
    missing = [t for t in REGISTRY.build_order() if not lake.exists(t)]
    if previous == record and not full_refresh and not missing:
        logger.info("trusted and curated tables are up to date")
        return BuildPlan(record, previous, True, "up to date")
    if full_refresh:
        base, reason = None, "full refresh"
    elif missing:
        base, reason = None, f"{missing[0]} does not exist yet"
    elif not record.same_basis(previous):
        base, reason = None, "first build, or the policy or the subject salt changed"
    else:
        base, reason = previous, "new or changed landing rows"
    days: dict[str, list[date]] = {}
    appended: dict[str, dict[date, list[str]]] = {}
    appended_rows = 0
    for table in reading_sources():
        changes = changed_days(lake, table, base, record)
        if changes is None:
            base, reason = None, f"the log of {table} no longer holds every commit since the last build"
            continue
        days[table] = sorted(date.fromisoformat(d) for d in changes.changed)
        appended[table] = {date.fromisoformat(d): paths for d, paths in changes.appended.items()}
        appended_rows += changes.added_rows
    if base is None:
        days = {t: sorted(landing_days(lake, t)) for t in reading_sources()}
        appended = {}
    logger.info(
        "building the derived tables (%s): %s",
        reason,
        ", ".join(f"{t} {len(d)} day(s)" for t, d in days.items()),
    )
    return BuildPlan(record, base, False, reason, days, appended, appended_rows)


def changed_days(
    lake: Lake, table: str, base: BuildRecord | None, record: BuildRecord
) -> PartitionChanges | None:
    """What changed per day of a landing reading table since the build `base` (None: unknown)."""
    if base is None:
        return PartitionChanges()
    since, now = base.versions.get(table), record.versions.get(table)
    if since is None or now is None:
        return None if now is not None else PartitionChanges()
    if since == now:
        return PartitionChanges()
    return lake.partition_changes(table, since, now, DAY)


def key_column(values: pa.Array | pa.ChunkedArray, policy: Policy) -> pa.Array | pa.ChunkedArray:
    """What readings are matched on: the exact email (udacity) or the normalised one (strict)."""
    return values if policy is Policy.UDACITY else normalise_email(values)


def changed_keys(old: pa.Table, new: pa.Table, policy: Policy) -> pa.Array:
    """Keys of the customers whose row differs between two versions of a customer table."""

    def rows(table: pa.Table) -> set[tuple[object, ...]]:
        return {tuple(r.values()) for r in table.to_pylist()}

    before, after = rows(old), rows(new)
    names = new.schema.names
    moved = [dict(zip(names, r, strict=True)) for r in before ^ after]
    emails = pa.array([r["email"] for r in moved], pa.string())
    return pc.unique(pc.drop_null(key_column(emails, policy)))


TARGET_UNIT_ROWS = 1_000_000  # rows of a unit: one validation run, one task
# Below this many rows a table's days are one unit in the flow process: starting worker processes
# (each imports Prefect, deltalake, DuckDB and GX) costs more than the work.
MIN_PARALLEL_ROWS = 500_000


@dataclass(frozen=True)
class DayWork:
    """The days of one derived table this build recomputes, the files they replace, and the units."""

    table: str
    days: list[date]  # recomputed whole
    removed: list[str]
    units: list[DayUnit]
    appended: list[date] = field(default_factory=list)  # days that only gain rows


def _landing_of(table: str) -> list[str]:
    """The landing reading tables whose days size a derived table's units."""
    found = [t for t in REGISTRY[table].inputs if t in reading_sources()]
    if found:
        return found
    return [s for i in REGISTRY[table].inputs if REGISTRY[i].time_column for s in _landing_of(i)]


def days_with_keys(
    lake: Lake, table: str, column: str, keys: pa.Array, normalise: bool, version: int | None = None
) -> set[date]:
    """Days of a landing reading table (at `version`) holding a row whose `column` is one of `keys`."""
    if not len(keys) or not lake.exists(table):
        return set()
    found: set[date] = set()
    for batch in lake.batches(table, [column, DAY], version=version, dictionary=[column]):
        values = batch.column(0)
        encoded = values.dictionary_encode() if not pa.types.is_dictionary(values.type) else values
        dictionary = encoded.dictionary
        if normalise:
            dictionary = pc.utf8_lower(pc.utf8_trim_whitespace(dictionary))
        hit = pc.is_in(dictionary, value_set=keys).take(encoded.indices)
        if pc.any(hit).as_py():
            found |= set(pc.unique(batch.column(1).filter(hit)).to_pylist())
    return found


def serials_of(lake: Lake, keys: pa.Array, policy: Policy) -> pa.Array:
    """Every device any record of these customers names (normalised), past owners' records included."""
    customers = lake.read("customer_landing", ["email", "serialNumber"])
    mine = pc.is_in(key_column(customers["email"], policy), value_set=keys)
    serials = pc.drop_null(customers["serialNumber"].filter(mine))
    return pc.unique(pc.utf8_lower(pc.utf8_trim_whitespace(serials)).combine_chunks())


def days_of_customers(
    lake: Lake, table: str, keys: pa.Array, policy: Policy, versions: Mapping[str, int | None] | None = None
) -> set[date]:
    """Days of `table`'s landing input holding readings of these customers (by email or device),
    at `versions` of the landing tables (default: the newest)."""
    landing = [i for i in REGISTRY[table].inputs if i in reading_sources()]
    if not len(keys) or not landing or REGISTRY[landing[0]].subject is None:
        return set()
    column, kind = REGISTRY[landing[0]].subject or ("", Subject.TEXT)
    version = (versions or {}).get(landing[0])
    if kind is Subject.EMAIL:
        return days_with_keys(lake, landing[0], column, keys, policy is Policy.STRICT, version)
    if kind is Subject.SERIAL:
        return days_with_keys(lake, landing[0], column, serials_of(lake, keys, policy), True, version)
    return set()


def _built_by(lake: Lake, table: str, build: BuildRecord | None) -> bool:
    """Whether the newest build commit of `table` is the build `build`'s (nothing committed since)."""
    found = lake.build_info(table, BUILD) if lake.exists(table) else None
    return build is not None and found is not None and BuildRecord.parse(found[1].get(BUILD)) == build


Appended = dict[str, dict[date, list[str]]]  # input table -> day -> files that hold its new rows


@task(name="dirty_days", task_run_name="dirty-days-{table}", **TASK_OPTIONS)
def dirty_days(
    config: RunConfig,
    plan: BuildPlan,
    table: str,
    keys: list[str] | None = None,
    also: list[date] | None = None,
    workers: int = 1,
    also_appended: Appended | None = None,
) -> DayWork:
    """Which days of `table` this build recomputes whole, and which only gain rows.

    Recomputed whole: days whose landing rows changed otherwise than by new files, days holding
    earlier readings of customers whose decisions changed (`keys`; None: every customer), `also`
    (days recomputed whole upstream), grown to whole files. Days whose inputs only gained files
    (`plan.appended` for landing inputs, `also_appended` for derived inputs) compute the rows
    of those files alone and add them: the rows the day holds stay right, since none of their
    customers' decisions changed.
    """
    lake = Lake.of(config)
    spec = REGISTRY[table]
    sources = _landing_of(table)
    sizes: dict[date, int] = {}
    for source in sources:
        for day, rows in landing_days(lake, source).items():
            sizes[day] = sizes.get(day, 0) + rows
    everything = plan.full or keys is None
    appended: dict[date, dict[str, list[str]]] = {}  # day -> input -> new files
    if everything:
        days = set(sizes)
    else:
        days = set(also or [])
        for source in sources:
            new = plan.appended.get(source, {}) if source in spec.inputs else {}
            for day in plan.landing_days.get(source, []):
                if day in new:
                    appended.setdefault(day, {})[source] = new[day]
                elif source in spec.inputs or day not in plan.appended.get(source, {}):
                    days.add(day)
        for name, per_day in (also_appended or {}).items():
            for day, paths in per_day.items():
                appended.setdefault(day, {})[name] = paths
        before = plan.previous.versions if plan.previous else None
        keyed = pa.array(keys or [], pa.string())
        days |= days_of_customers(lake, table, keyed, config.policy, before)
    if appended and not _built_by(lake, table, plan.previous):
        # A run stopped after committing this table: its new rows may be in it already, so the
        # days are recomputed whole instead (a rerun never adds rows twice).
        days |= set(appended)
    removed: set[str] = set()
    if lake.exists(table):
        ranges = lake.file_ranges(table, str(spec.time_column))
        spans = {p: None if r is None else days_from_ms(*r) for p, r in ranges.items()}
        if everything:
            removed = set(spans)
        else:
            days, removed = close_over_files(days, spans, sizes)
    appended = {d: v for d, v in appended.items() if d not in days}
    versions = {i: lake.version(i) for i in spec.inputs}
    # A day no landing row is left in still runs: it removes the table's rows of that day.
    weights = {d: max(1, sizes.get(d, 0)) for d in days}
    spread = workers if sum(weights.values()) >= MIN_PARALLEL_ROWS else 1
    check = plan.record.salt_check
    units = [DayUnit(table, u, versions, check) for u in work_units(weights, TARGET_UNIT_ROWS, spread)]
    if appended:  # new rows: about the delivery's share of each day
        share = plan.appended_rows / max(1, sum(sizes.values()))
        small = {d: max(1, int(sizes.get(d, 0) * share)) for d in appended}
        spread = workers if sum(small.values()) >= MIN_PARALLEL_ROWS else 1
        for group in work_units(small, TARGET_UNIT_ROWS, spread):
            files = {
                name: {d.isoformat(): appended[d][name] for d in group if name in appended[d]}
                for name in {n for d in group for n in appended[d]}
            }
            units.append(DayUnit(table, group, versions, check, files))
    return DayWork(table, sorted(days), sorted(removed), units, sorted(appended))
