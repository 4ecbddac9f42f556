"""Every table of a built lakehouse reads the same in DuckDB and in Polars as in deltalake itself.

DuckDB reads Delta tables natively through its `delta` extension (`delta_scan`), which DuckDB downloads
from its own extension repository at `INSTALL delta`; where that download is not possible (as on the
machines these tests run on) DuckDB reads the Arrow dataset that deltalake resolves from the Delta log
instead, which is what this test does. Polars reads with `pl.read_delta` / `pl.scan_delta`: deltalake
replays the log, Polars' own Parquet reader reads the files.

A threaded Arrow scan through deltalake's Python-implemented filesystem can abort the interpreter at
exit, after all work succeeded. So deltalake's reference read is single-threaded, DuckDB scans a
dataset opened on Arrow's own local filesystem, and Polars runs with `use_pyarrow` off (its default),
which never enters that filesystem. The last test runs the readers in fresh interpreters, several
times, and fails if one of them ends abnormally.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pytest
from deltalake import DeltaTable

from stedi.registry import REGISTRY
from tests.built import built_lake

Rows = list[tuple[Any, ...]]


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Path:
    return built_lake(tmp_path_factory)


def delta_tables(root: Path) -> dict[str, Path]:
    """Every Delta table under the lakehouse root, by name (zone folders and top-level tables alike)."""
    found = {p.parent.name: p.parent for p in root.rglob("_delta_log")}
    assert set(REGISTRY.data_tables) <= set(found), f"tables missing from the built lake: {found}"
    return found


def _value(v: Any) -> Any:
    return v.astimezone(UTC) if isinstance(v, datetime) and v.tzinfo else v


def canonical(table: pa.Table) -> tuple[list[str], Rows]:
    """Column names and rows in a stable order, values compared as Python objects (instants in UTC)."""
    rows = [tuple(_value(v) for v in row.values()) for row in table.to_pylist()]
    return table.column_names, sorted(rows, key=repr)


def with_deltalake(path: Path) -> tuple[list[str], Rows]:
    # The single-threaded scan is the one of deltalake's readers that cannot abort at exit.
    return canonical(DeltaTable(str(path)).to_pyarrow_dataset().to_table(use_threads=False))


def with_duckdb(path: Path) -> tuple[list[str], Rows]:
    import duckdb

    # The files the current version lists, opened through Arrow's own filesystem.
    local = pafs.SubTreeFileSystem(str(path), pafs.LocalFileSystem())
    dataset = DeltaTable(str(path)).to_pyarrow_dataset(filesystem=local)
    with duckdb.connect() as con:
        con.register("delta_table", dataset)
        result = con.sql("SELECT * FROM delta_table").to_arrow_table()
    return canonical(result)


def with_polars(path: Path, lazy: bool) -> tuple[list[str], Rows]:
    import polars as pl

    frame = pl.scan_delta(str(path)).collect() if lazy else pl.read_delta(str(path))
    return canonical(frame.to_arrow())


def test_duckdb_reads_every_table_as_deltalake_does(lake_root: Path) -> None:
    tables = delta_tables(lake_root)
    for name, path in sorted(tables.items()):
        assert with_duckdb(path) == with_deltalake(path), name
    assert sum(len(with_deltalake(p)[1]) for p in tables.values()) > 0


@pytest.mark.parametrize("lazy", [False, True], ids=["read_delta", "scan_delta"])
def test_polars_reads_every_table_as_deltalake_does(lake_root: Path, lazy: bool) -> None:
    for name, path in sorted(delta_tables(lake_root).items()):
        assert with_polars(path, lazy) == with_deltalake(path), name


READ_ALL = """
import json, sys
from pathlib import Path
import duckdb, polars as pl, pyarrow.fs as pafs
from deltalake import DeltaTable
counts = {}
for log in sorted(Path(sys.argv[1]).rglob("_delta_log")):
    path = str(log.parent)
    dataset = DeltaTable(path).to_pyarrow_dataset(
        filesystem=pafs.SubTreeFileSystem(path, pafs.LocalFileSystem())
    )
    with duckdb.connect() as con:
        con.register("t", dataset)
        ((duck,),) = con.sql("SELECT count(*) FROM t").fetchall()
    counts[log.parent.name] = [duck, pl.read_delta(path).height, pl.scan_delta(path).collect().height]
print(json.dumps(counts))
"""


@pytest.mark.slow
def test_the_readers_never_abort_the_interpreter_at_exit(lake_root: Path) -> None:
    """Each fresh interpreter reads every table with DuckDB and Polars, then must exit with 0.

    An abort at exit (SIGABRT, exit status 134 from a shell) strikes a third or more of the runs of an
    unsafe read path, so five clean exits in a row would be unlikely if one were used here.
    """
    outputs = set()
    for attempt in range(5):
        done = subprocess.run(
            [sys.executable, "-c", READ_ALL, str(lake_root)], capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"run {attempt}: exit status {done.returncode}\n{done.stderr[-2000:]}"
        outputs.add(done.stdout)
    (output,) = outputs
    counts = json.loads(output)
    assert counts and all(len(set(c)) == 1 for c in counts.values()), counts
