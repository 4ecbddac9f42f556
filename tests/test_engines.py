"""Every table opens in another engine: DuckDB reads the Parquet files the Delta log lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from stedi.registry import REGISTRY
from stedi.storage import Lake
from tests.built import built_lake


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Path:
    return built_lake(tmp_path_factory)


@pytest.mark.parametrize("table", REGISTRY.data_tables)
def test_duckdb_reads_the_same_rows_and_columns(lake_root: Path, table: str) -> None:
    import duckdb

    lake = Lake(str(lake_root), {})
    dt = lake.delta(table)
    files = dt.file_uris()
    columns = list(dt.schema().to_arrow().names)
    with duckdb.connect() as con:
        if files:
            scan = f"read_parquet({[f.removeprefix('file://') for f in files]!r}, union_by_name = true)"
            ((rows,),) = con.sql(f"SELECT count(*) FROM {scan}").fetchall()
            names = [d[0] for d in con.sql(f"SELECT * FROM {scan} LIMIT 0").description]
        else:
            rows, names = 0, columns
    assert rows == lake.count(table)
    assert names == columns
