"""Run audit SQL on DuckDB: an in-process connection per call, Arrow tables in and out, no files.

Nothing is shared between calls, so the same function runs in the flow process, in a process pool
or on a Dask worker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import duckdb
import numpy as np
import pyarrow as pa

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
ROW = "_row"


def query(sql: str, tables: Mapping[str, pa.Table]) -> pa.Table:
    """The result of `sql` over `tables` (each registered under its key) as an Arrow table."""
    return queries([sql], tables)[0]


def queries(sqls: Sequence[str], tables: Mapping[str, pa.Table], setup: Sequence[str] = ()) -> list[pa.Table]:
    """The results of `sqls` on one connection, after the `setup` statements (e.g. temporary tables)."""
    with duckdb.connect() as con:
        for statement in SETUP:
            con.execute(statement)
        for name, table in tables.items():
            con.register(name, table)
        for statement in setup:
            con.execute(statement)
        # .arrow() is a Table up to DuckDB 1.3 and a RecordBatchReader since 1.4: pa.table reads both
        return [pa.table(con.sql(sql).arrow()) for sql in sqls]


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
