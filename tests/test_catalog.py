"""`stedi ddl`: Athena/Glue DDL for every table, compared with a golden file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from stedi.catalog import hive_type, lakehouse_ddl
from stedi.storage import Lake
from tests.built import built_lake

GOLDEN = Path(__file__).parent / "golden" / "ddl.sql"
LOCATION = "s3://stedi-lake/prod"


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Path:
    return built_lake(tmp_path_factory)


def test_arrow_types_map_to_glue_types() -> None:
    struct = pa.struct([("a", pa.int32()), ("b", pa.list_(pa.string()))])
    assert [hive_type(t) for t in (pa.int64(), pa.float64(), pa.timestamp("us", tz="UTC"), struct)] == [
        "bigint",
        "double",
        "timestamp",
        "struct<a:int,b:array<string>>",
    ]


def test_ddl_matches_the_golden_file(lake_root: Path) -> None:
    ddl = lakehouse_ddl(Lake(str(lake_root), {}), "stedi", LOCATION)
    if os.environ.get("STEDI_UPDATE_GOLDEN"):
        GOLDEN.write_text(ddl)
    assert ddl == GOLDEN.read_text(), "DDL changed: rerun with STEDI_UPDATE_GOLDEN=1 and review the diff"


def test_missing_tables_are_named_not_invented(tmp_path: Path) -> None:
    ddl = lakehouse_ddl(Lake(str(tmp_path), {}), "stedi", LOCATION)
    assert "-- machine_learning_curated (curated zone): not created yet; run `stedi run` first" in ddl
    assert "CREATE EXTERNAL TABLE" not in ddl


@pytest.mark.integration
def test_the_ddl_command_prints_the_golden_ddl(lake_root: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stedi.cli", "ddl", "--lakehouse", str(lake_root), "--location", LOCATION],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == GOLDEN.read_text()
