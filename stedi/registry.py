"""Every lakehouse table, declared once.

One `TableSpec` per table holds what the rest of the code derives from: the zone (and so the
location), the schema, what identifies a record, which columns hold personal data (they get no
Delta statistics, because per-file min/max values in the log would outlive an erasure), how the
table is laid out, how erasure finds a subject's rows, which suite validates it, and which tables
it is built from. Zones, table properties, erasable tables, the build order, the DDL and the docs'
table catalogue are all computed from `TABLES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pyarrow as pa

from stedi.errors import InputError
from stedi.ingest.ledger import INGEST_LOG_SCHEMA
from stedi.privacy.tables import ERASURE_LOG_SCHEMA, ERASURE_REQUESTS_SCHEMA, TOMBSTONE_SCHEMA
from stedi.schemas import ACCELEROMETER, CUSTOMER, ML_SCHEMA, QUARANTINE_SCHEMA, STEP_TRAINER, Feed


class Zone(StrEnum):
    """Where a table lives under the lakehouse root: `<root>/<zone>/<table>`."""

    LANDING = "landing"
    TRUSTED = "trusted"
    CURATED = "curated"
    PRIVACY = "privacy"


class Subject(StrEnum):
    """What a table's subject column holds, so erasure knows how to match it."""

    EMAIL = "email"
    SERIAL = "serial"
    SUBJECT_ID = "subject_id"
    TEXT = "text"  # raw landing lines: matched by the plaintext identifiers of a request


@dataclass(frozen=True)
class Layout:
    """How a large table is laid out.

    `partition_by` is passed to every write of the table; `cluster_by` is what the maintenance
    flow Z-orders on (about `files` files of at most `max_file_bytes` each), so a query of one day
    skips most files.
    """

    partition_by: tuple[str, ...] = ()
    cluster_by: tuple[str, ...] = ()
    files: int = 128
    max_file_bytes: int = 128 * 2**20


@dataclass(frozen=True)
class TableSpec:
    """One table of the lakehouse and everything the pipeline needs to know about it."""

    name: str
    zone: Zone
    schema: pa.Schema
    description: str
    identity: tuple[str, ...] = ()  # columns that identify a record (empty: the whole row)
    personal: tuple[str, ...] = ()  # columns holding personal data: never given statistics
    subject: tuple[str, Subject] | None = None  # (column, kind) erasure matches on
    source_file: str | None = None  # column naming the landing file a row came from
    layout: Layout = field(default_factory=Layout)
    inputs: tuple[str, ...] = ()  # tables this one is built from
    suite: str | None = None  # its Great Expectations suite: a name in expectations/ or a .json path
    feed: Feed | None = None  # landing tables: the feed they ingest
    time_column: str | None = None  # reading tables: the epoch-ms time rows are partitioned by
    # Derived tables: "module:function" computing the table (pure rule plus its audit). Reading
    # tables (with a time column) are built a day at a time, the others whole.
    rule: str | None = None

    @property
    def stats_columns(self) -> tuple[str, ...]:
        """Columns Delta keeps min/max statistics for: every non-personal column of a
        plain type."""
        return tuple(
            f.name
            for f in self.schema
            if f.name not in self.personal
            and not (pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type))
            and not pa.types.is_nested(f.type)
        )

    @property
    def properties(self) -> dict[str, str]:
        """Delta table properties set when the table is created."""
        return {"delta.dataSkippingStatsColumns": ",".join(self.stats_columns)}

    @property
    def derived(self) -> bool:
        """Built by the pipeline from other tables (trusted and curated zones)."""
        return self.zone in (Zone.TRUSTED, Zone.CURATED)


_CUSTOMER_PERSONAL = ("customerName", "email", "phone", "birthDay", "serialNumber")
_LANDING_PERSONAL = ("_extra",)  # unknown keys of a landing record may hold anything


def _landing(
    feed: Feed, personal: tuple[str, ...], subject: tuple[str, Subject], time: str | None
) -> TableSpec:
    return TableSpec(
        name=feed.landing_table,
        zone=Zone.LANDING,
        schema=feed.landing_schema,
        description=f"every accepted `{feed.name}` landing record, with its lineage",
        identity=("_record_id",),
        personal=(*personal, *_LANDING_PERSONAL),
        subject=subject,
        source_file="_source_file",
        suite=feed.landing_table,
        feed=feed,
        time_column=time,
        layout=Layout(partition_by=feed.partition_by),
    )


SPECS: tuple[TableSpec, ...] = (
    TableSpec(
        name="ingest_log",
        zone=Zone.LANDING,
        schema=INGEST_LOG_SCHEMA,
        description="which landing files were loaded, when, and what became of their lines",
        identity=("feed", "path", "content_hash"),
    ),
    _landing(CUSTOMER, _CUSTOMER_PERSONAL, ("email", Subject.EMAIL), None),
    _landing(ACCELEROMETER, ("user",), ("user", Subject.EMAIL), "timestamp"),
    _landing(STEP_TRAINER, ("serialNumber",), ("serialNumber", Subject.SERIAL), "sensorReadingTime"),
    TableSpec(
        name="quarantine",
        zone=Zone.LANDING,
        schema=QUARANTINE_SCHEMA,
        description="landing lines that could not be accepted, with the reason",
        identity=("feed", "source_file", "line_number"),
        personal=("raw_line", "reason"),
        subject=("raw_line", Subject.TEXT),
        source_file="source_file",
        suite="quarantine",
    ),
    TableSpec(
        name="customer_trusted",
        zone=Zone.TRUSTED,
        schema=CUSTOMER.schema,
        description="customers who agreed to share their data for research",
        identity=("email",),
        personal=_CUSTOMER_PERSONAL,
        subject=("email", Subject.EMAIL),
        inputs=("customer_landing", "quarantine"),
        suite="customer_trusted",
        rule="tasks.customers:customer_trusted_rule",
    ),
    TableSpec(
        name="accelerometer_trusted",
        zone=Zone.TRUSTED,
        schema=ACCELEROMETER.schema,
        description="accelerometer readings of consenting customers (strict: taken at or after consent)",
        personal=("user",),
        subject=("user", Subject.EMAIL),
        layout=Layout(cluster_by=("timestamp",)),
        inputs=("accelerometer_landing", "customer_trusted"),
        suite="accelerometer_trusted",
        rule="tasks.days:accelerometer_trusted_day",
        time_column="timestamp",
    ),
    TableSpec(
        name="customer_curated",
        zone=Zone.CURATED,
        schema=CUSTOMER.schema,
        description="consenting customers who have accelerometer readings, one row each",
        identity=("email",),
        personal=_CUSTOMER_PERSONAL,
        subject=("email", Subject.EMAIL),
        inputs=("customer_trusted", "accelerometer_trusted"),
        suite="customer_curated",
        rule="tasks.customers:customer_curated_rule",
    ),
    TableSpec(
        name="step_trainer_trusted",
        zone=Zone.TRUSTED,
        schema=STEP_TRAINER.schema,
        description="step-trainer readings of curated customers' devices (strict: owner at that time)",
        personal=("serialNumber",),
        subject=("serialNumber", Subject.SERIAL),
        layout=Layout(cluster_by=("sensorReadingTime",)),
        inputs=("step_trainer_landing", "customer_landing", "customer_curated"),
        suite="step_trainer_trusted",
        rule="tasks.days:step_trainer_trusted_day",
        time_column="sensorReadingTime",
    ),
    TableSpec(
        name="machine_learning_curated",
        zone=Zone.CURATED,
        schema=ML_SCHEMA,
        description="each step reading with the same subject's accelerometer readings of that time",
        personal=("subject_id",),
        subject=("subject_id", Subject.SUBJECT_ID),
        layout=Layout(cluster_by=("sensorReadingTime",)),
        inputs=("step_trainer_trusted", "accelerometer_trusted", "customer_landing", "customer_curated"),
        suite="machine_learning_curated",
        rule="tasks.days:machine_learning_curated_day",
        time_column="sensorReadingTime",
    ),
    TableSpec(
        name="erasure_requests",
        zone=Zone.PRIVACY,
        schema=ERASURE_REQUESTS_SCHEMA,
        description="erasure requests waiting for the next erasure run (the only plaintext privacy table)",
        identity=("email",),
        personal=("email",),
        subject=("email", Subject.EMAIL),
    ),
    TableSpec(
        name="erasure_log",
        zone=Zone.PRIVACY,
        schema=ERASURE_LOG_SCHEMA,
        description="one row per erased subject and run: keyed hash and counts, no plaintext",
        identity=("erasure_id", "subject"),
    ),
    TableSpec(
        name="tombstones",
        zone=Zone.PRIVACY,
        schema=TOMBSTONE_SCHEMA,
        description="keyed hashes of erased emails and devices, so later ingests drop them",
        identity=("kind", "hash"),
    ),
)


class Registry:
    """The table specs by name, and what derives from them."""

    def __init__(self, specs: Iterable[TableSpec]) -> None:
        self.specs: dict[str, TableSpec] = {}
        for spec in specs:
            if spec.name in self.specs:
                raise ValueError(f"table {spec.name} is declared twice")
            self.specs[spec.name] = spec
        self.check()

    def register(self, *specs: TableSpec) -> None:
        """Add tables (a new feed and what is built from it); refused if they break the registry."""
        before = dict(self.specs)
        for spec in specs:
            if spec.name in self.specs:
                raise ValueError(f"table {spec.name} is declared twice")
            self.specs[spec.name] = spec
        try:
            self.check()
        except ValueError:
            self.specs = before
            raise

    def unregister(self, *names: str) -> None:
        for name in names:
            self.specs.pop(name, None)
        self.check()

    def check(self) -> None:
        """Every input declared, no cycle, every derived table with a rule and a time-aware input."""
        for spec in self.specs.values():
            if spec.derived and spec.rule is None:
                raise ValueError(f"{spec.name} is derived but names no rule")
            missing = [i for i in spec.inputs if i not in self.specs]
            if missing:
                raise ValueError(f"{spec.name} is built from undeclared tables: {', '.join(missing)}")
        self.build_order()  # refuses a cycle now rather than at run time

    def __getitem__(self, name: str) -> TableSpec:
        try:
            return self.specs[name]
        except KeyError:
            known = ", ".join(self.specs)
            raise InputError(f"unknown table {name!r}: known tables are {known}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.specs

    def names(self, *zones: Zone) -> list[str]:
        return [s.name for s in self.specs.values() if not zones or s.zone in zones]

    @property
    def feeds(self) -> list[Feed]:
        return [s.feed for s in self.specs.values() if s.feed is not None]

    @property
    def data_tables(self) -> list[str]:
        """The tables of the three data zones (landing, trusted, curated), in declaration order."""
        return self.names(Zone.LANDING, Zone.TRUSTED, Zone.CURATED)

    @property
    def erasable(self) -> dict[str, tuple[str, Subject]]:
        """Every table holding a subject's data: the column erasure matches and what it holds."""
        return {s.name: s.subject for s in self.specs.values() if s.subject is not None}

    @property
    def source_files(self) -> dict[str, str]:
        return {s.name: s.source_file for s in self.specs.values() if s.source_file}

    def build_order(self) -> list[str]:
        """The derived tables, each after every table it is built from (declaration order breaks ties)."""
        order: list[str] = []
        state: dict[str, str] = {}

        def visit(name: str, path: tuple[str, ...]) -> None:
            if state.get(name) == "done":
                return
            if state.get(name) == "visiting":
                raise ValueError(f"tables are built from each other in a cycle: {' -> '.join((*path, name))}")
            state[name] = "visiting"
            for upstream in self.specs[name].inputs:
                visit(upstream, (*path, name))
            state[name] = "done"
            if self.specs[name].derived:
                order.append(name)

        for name in self.specs:
            visit(name, ())
        return order

    def sources(self) -> list[str]:
        """The landing tables the derived tables are built from (their versions describe a build)."""
        used = {i for d in self.build_order() for i in self.specs[d].inputs}
        return [s.name for s in self.specs.values() if s.feed is not None and s.name in used]

    def catalogue(self) -> str:
        """The table catalogue as Markdown, for the docs."""
        lines = ["| zone | table | what it holds | built from |", "| --- | --- | --- | --- |"]
        for spec in self.specs.values():
            inputs = "landing files" if spec.feed else ", ".join(f"`{i}`" for i in spec.inputs)
            lines.append(f"| {spec.zone} | `{spec.name}` | {spec.description} | {inputs} |")
        return "\n".join(lines) + "\n"


REGISTRY = Registry(SPECS)


def resolve(reference: str) -> Any:
    """The object a "module:attribute" reference names (rules are imported only where they run)."""
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


def zones(registry: Registry = REGISTRY) -> Mapping[str, str]:
    """Table name -> zone folder, for every declared table."""
    return {name: str(spec.zone) for name, spec in registry.specs.items()}
