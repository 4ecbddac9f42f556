"""Run audit SQL on DuckDB: Arrow tables in and out, no files.

`query`/`queries` open an in-process connection per call (used once per build, for the customer
facts and the whole customer tables). `Database` holds tables prepared once (the facts, numbered) in
an in-memory database that per-day audits query through a cursor each, so threads may share it.
Nothing is shared between processes: the same functions run in the flow process, in a process pool
or on a Dask worker.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Identity as SQL: trimmed of Unicode whitespace (the characters Arrow's utf8_trim_whitespace trims)
# and lower-cased. Written here again, not imported: the audit must not share code with the rules.
# The regular expression is slow, so it runs only on values that start or end with such a character.
_BLANKS = (0x9, 0xA, 0xB, 0xC, 0xD, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B))
_BLANKS += (0x2028, 0x2029, 0x202F, 0x205F, 0x3000)
_CODES = ", ".join(str(c) for c in _BLANKS)
_BLANK = r"[\s\x0b\x1c-\x1f\x85\p{Z}]"
SETUP = (
    "SET enable_progress_bar = false",
    f"""CREATE MACRO norm(s) AS lower(
        CASE WHEN ord(s[1]) IN ({_CODES}) OR ord(s[-1]) IN ({_CODES})
             THEN regexp_replace(s, '^{_BLANK}+|{_BLANK}+$', '', 'g') ELSE s END)""",
)
# One DuckDB thread per connection: an audit's inputs are ≈100k rows (a day, or the customers), where a
# second thread costs more CPU than it saves (facts at 125k customers: 0.44 against 0.56 CPU s), and
# the units already run one process per core.
THREADS = "SET threads = 1"
ROW = "_row"


def query(sql: str, tables: Mapping[str, pa.Table]) -> pa.Table:
    """The result of `sql` over `tables` (each registered under its key) as an Arrow table."""
    return queries([sql], tables)[0]


def queries(sqls: Sequence[str], tables: Mapping[str, pa.Table], setup: Sequence[str] = ()) -> list[pa.Table]:
    """The results of `sqls` on one connection, after the `setup` statements (e.g. temporary tables)."""
    with duckdb.connect() as con:
        for statement in (*SETUP, THREADS):
            con.execute(statement)
        for name, table in tables.items():
            con.register(name, table)
        for statement in setup:
            con.execute(statement)
        # .arrow() is a Table up to DuckDB 1.3 and a RecordBatchReader since 1.4: pa.table reads both
        return [pa.table(con.sql(sql).arrow()) for sql in sqls]


class Database:
    """An in-memory DuckDB database of tables prepared once, queried by many calls (and threads).

    `prepare` runs statements over Arrow tables registered for the time being, once per name: what
    they create (`CREATE TABLE ...`) stays. Each `queries` call runs on its own cursor with its own
    registered tables. Tables derived from further inputs (`derived`) are made once per input objects.
    """

    _KEEP = 4  # derived tables kept per name (one per input object: a build uses one)

    def __init__(self) -> None:
        self._pid = os.getpid()
        self._con = duckdb.connect()
        for statement in (*SETUP, THREADS):
            self._con.execute(statement)
        self._lock = threading.Lock()
        self._prepared: set[str] = set()
        self._derived: dict[str, list[tuple[tuple[pa.Table, ...], str]]] = {}
        self._made = 0

    def prepare(self, name: str, tables: Mapping[str, pa.Table], statements: Sequence[str]) -> None:
        """Run `statements` (creating tables) over `tables`, registered meanwhile; once per `name`."""
        with self._lock:
            if name in self._prepared:
                return
            with self._con.cursor() as cur:
                for table_name, table in tables.items():
                    cur.register(table_name, table)
                for statement in statements:
                    cur.execute(statement)
            self._prepared.add(name)

    def derived(
        self, name: str, sources: Mapping[str, pa.Table], make: Callable[[str], Sequence[str]]
    ) -> str:
        """The name of a table made from `sources` by the statements `make(table_name)`, once per objects.

        `make`'s statements see each source under its key. Arrow tables are immutable, so the same
        objects always yield the same table.
        """
        with self._lock:
            found = self._derived.setdefault(name, [])
            for seen, table in found:
                if len(seen) == len(sources) and all(
                    a is b for a, b in zip(seen, sources.values(), strict=True)
                ):
                    return table
            self._made += 1
            table = f"{name}_{self._made}"
            with self._con.cursor() as cur:
                for source_name, source in sources.items():
                    cur.register(source_name, source)
                for statement in make(table):
                    cur.execute(statement)
            found.append((tuple(sources.values()), table))
            if len(found) > self._KEEP:
                _, dropped = found.pop(0)
                self._con.execute(f"DROP TABLE {dropped}")
            return table

    @property
    def usable(self) -> bool:
        """False in a forked child: DuckDB's threads stayed in the parent."""
        return os.getpid() == self._pid

    def queries(self, sqls: Sequence[str], tables: Mapping[str, pa.Table]) -> list[pa.Table]:
        """The results of `sqls` over the prepared tables and `tables` (registered on this call's cursor)."""
        with self._con.cursor() as cur:
            cur.execute(SETUP[0])
            for name, table in tables.items():
                cur.register(name, table)
            return [pa.table(cur.sql(sql).arrow()) for sql in sqls]


def numbered(table: pa.Table, columns: Sequence[str]) -> pa.Table:
    """`columns` of `table` plus its row number in `_row`, so results can be put back in row order."""
    return table.select(list(columns)).append_column(ROW, pa.array(np.arange(table.num_rows, dtype=np.int64)))


def in_row_order(result: pa.Table, rows: int) -> pa.Table:
    """`result` (one row per `_row` in 0..rows-1, any order) in row order, without `_row`."""
    if result.num_rows != rows:
        raise AssertionError(f"audit query returned {result.num_rows} rows for {rows}: a join fanned out")
    order = np.empty(rows, dtype=np.int64)
    order[result[ROW].to_numpy()] = np.arange(rows, dtype=np.int64)
    return result.drop_columns([ROW]).take(pa.array(order))


def distinct(column: pa.ChunkedArray | pa.Array, name: str) -> pa.Table:
    """The distinct values of `column` as a one-column table: a small table to register."""
    return pa.table({name: pc.unique(column)})


def lookup(keys: pa.ChunkedArray | pa.Array, found: pa.Table, key: str) -> pa.Table:
    """Per value of `keys`, the row of `found` whose `key` equals it (all nulls where none), without `key`."""
    values = found[key].combine_chunks()
    if len(pc.unique(values)) != len(values):
        raise AssertionError(f"audit lookup on {key} found a key twice: a join fanned out")
    index = pc.index_in(keys, value_set=values, skip_nulls=True)
    return found.drop_columns([key]).take(index)


def at_rows(rows: int, found: pa.Table, value: str | None = None, default: int | None = None) -> pa.Array:
    """A column of `rows` values: `found[value]` at the rows `found[_row]` names, else `default`.

    Without `value`: true at the rows `found` names, false elsewhere.
    """
    where = found[ROW].to_numpy()
    mask = np.zeros(rows, dtype=np.bool_)
    mask[where] = True
    if value is None:
        return pa.array(mask)
    if np.count_nonzero(mask) != len(where):
        raise AssertionError(f"audit query returned a row twice for {value}: a join fanned out")
    column = found[value].combine_chunks()
    values = np.full(rows, 0 if default is None else default, dtype=np.int64)
    values[where] = column.fill_null(0).to_numpy()
    valid = ~mask if default is not None else np.zeros(rows, dtype=np.bool_)
    valid[where] = column.is_valid().to_numpy(zero_copy_only=False)
    return pa.array(values, mask=~valid)
