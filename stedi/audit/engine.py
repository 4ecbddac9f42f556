"""Run audit SQL on DuckDB: an in-process connection per call, Arrow tables in and out, no files.

Nothing is shared between calls, so the same function runs in the flow process, in a process pool
or on a Dask worker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import duckdb
import numpy as np
import pyarrow as pa

# Identity as SQL: trimmed (Unicode whitespace, as Arrow's utf8_trim_whitespace) and lower-cased.
# Written here again, not imported: the audit must not share code with the rules it checks.
_BLANK = r"[\s\x0b\x1c-\x1f\x85\p{Z}]"
MACROS = f"""
CREATE MACRO norm(s) AS lower(regexp_replace(s, '^{_BLANK}+|{_BLANK}+$', '', 'g'));
"""
ROW = "_row"


def query(sql: str, tables: Mapping[str, pa.Table]) -> pa.Table:
    """The result of `sql` over `tables` (each registered under its key) as an Arrow table."""
    with duckdb.connect() as con:
        con.execute(MACROS)
        for name, table in tables.items():
            con.register(name, table)
        return con.sql(sql).to_arrow_table()


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
