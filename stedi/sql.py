"""SQL over the lakehouse tables by name, with time travel (DataFusion through deltalake's QueryBuilder).

QueryBuilder is one of the read paths that cannot abort the interpreter at exit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from stedi.errors import InputError
from stedi.registry import REGISTRY
from stedi.storage import Lake


@dataclass(frozen=True)
class TimeTravel:
    """Which snapshot of every queried table to read: the latest, a Delta version, or as of a time."""

    version: int | None = None
    as_of: datetime | None = None

    def __post_init__(self) -> None:
        if self.version is not None and self.as_of is not None:
            raise InputError("give either --version or --as-of, not both")
        if self.version is not None and self.version < 0:
            raise InputError(f"--version {self.version}: Delta versions start at 0")


def parse_as_of(text: str) -> datetime:
    """An ISO 8601 date or time; without a zone it is UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"--as-of {text!r} is not an ISO 8601 time: write e.g. 2026-11-26T22:00:00Z or 2026-11-26"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def referenced_tables(sql: str) -> list[str]:
    """The lakehouse tables whose names appear in `sql` as words, in table order."""
    words = {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql)}
    return [t for t in REGISTRY.data_tables if t in words]


def query(lake: Lake, sql: str, when: TimeTravel | None = None) -> pa.Table:
    """Run `sql` with every lakehouse table it names registered under that name."""
    from deltalake import QueryBuilder
    from deltalake.exceptions import DeltaError

    when = when or TimeTravel()
    tables = referenced_tables(sql)
    if not tables:
        known = ", ".join(REGISTRY.data_tables)
        raise InputError(f"the query names no lakehouse table: select FROM one of {known}")
    builder = QueryBuilder()
    for table in tables:
        builder.register(table, _snapshot(lake, table, when))
    try:
        result = pa.table(builder.execute(sql).read_all())
    except DeltaError as exc:
        raise InputError(
            f'{exc} (quote camelCase column names: "sensorReadingTime"; tables: {", ".join(tables)})'
        ) from None
    return _without_views(result)


def _without_views(table: pa.Table) -> pa.Table:
    """DataFusion answers with string_view columns, which pyarrow's CSV writer and older readers lack."""
    fields = [f.with_type(pa.string()) if pa.types.is_string_view(f.type) else f for f in table.schema]
    return table.cast(pa.schema(fields)) if fields != list(table.schema) else table


def _snapshot(lake: Lake, table: str, when: TimeTravel) -> Any:
    from deltalake.exceptions import DeltaError

    if when.version is not None:
        try:
            return lake.delta(table, when.version)
        except DeltaError:
            latest = lake.version(table)
            raise InputError(
                f"{table} has no version {when.version}: its versions are 0 to {latest}"
            ) from None
    dt = lake.delta(table)
    if when.as_of is not None:
        first = min(int(c["timestamp"]) for c in dt.history())
        if when.as_of.timestamp() * 1000 < first:
            created = datetime.fromtimestamp(first / 1000, UTC).isoformat(timespec="seconds")
            raise InputError(f"{table} did not exist at {when.as_of.isoformat()}: it was created {created}")
        dt.load_as_version(when.as_of)
    return dt


def format_table(table: pa.Table, max_rows: int = 100) -> str:
    """A plain-text grid: numbers right-aligned, NULL for missing values, a row count at the end."""
    shown = table.slice(0, max_rows)
    names = shown.column_names
    columns = [[_cell(v) for v in shown.column(i).to_pylist()] for i in range(shown.num_columns)]
    numeric = [pa.types.is_integer(f.type) or pa.types.is_floating(f.type) for f in shown.schema]
    widths = [max([len(n), *(len(c) for c in col)]) for n, col in zip(names, columns, strict=True)]

    def line(cells: list[str]) -> str:
        parts = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric, strict=True)]
        return " | ".join(parts).rstrip()

    out = [line(names), "-+-".join("-" * w for w in widths)]
    out += [line([col[r] for col in columns]) for r in range(shown.num_rows)]
    total = table.num_rows
    more = f", first {max_rows} shown" if total > max_rows else ""
    out.append(f"({total:,} row{'s' if total != 1 else ''}{more})")
    return "\n".join(out)


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        text = f"{value:.6g}"
        return text if any(c in text for c in ".enia") else f"{text}.0"
    return str(value)
