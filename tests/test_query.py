"""`stedi query`: SQL over the tables by name, time travel, readable output."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from stedi.errors import InputError
from stedi.sql import TimeTravel, format_table, parse_as_of, query, referenced_tables
from stedi.storage import Lake
from tests.built import built_lake


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Path:
    return built_lake(tmp_path_factory)


def stedi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stedi.cli", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_tables_are_found_by_name_in_the_sql() -> None:
    sql = 'SELECT * FROM customer_curated c JOIN "machine_learning_curated" m ON true -- customer_landing_x'
    assert referenced_tables(sql) == ["customer_curated", "machine_learning_curated"]


def test_a_query_sees_every_row_of_the_table(lake_root: Path) -> None:
    lake = Lake(str(lake_root), {})
    result = query(lake, "SELECT count(*) AS n FROM machine_learning_curated")
    assert result.to_pylist() == [{"n": lake.count("machine_learning_curated")}]
    assert result.column("n")[0].as_py() > 0


def test_a_join_across_zones_by_table_names(lake_root: Path) -> None:
    lake = Lake(str(lake_root), {})
    sql = (
        "SELECT count(*) AS n FROM customer_curated c "
        "JOIN customer_trusted t ON lower(c.email) = lower(t.email)"
    )
    assert query(lake, sql).column("n")[0].as_py() == lake.count("customer_curated")


def test_version_and_as_of_read_earlier_snapshots(lake_root: Path, tmp_path: Path) -> None:
    shutil.copytree(lake_root, tmp_path / "lake")
    lake = Lake(str(tmp_path / "lake"), {})
    before = lake.count("customer_trusted")
    first = lake.version("customer_trusted")
    assert first is not None
    committed = max(int(c["timestamp"]) for c in lake.delta("customer_trusted").history())
    lake.write("customer_trusted", lake.read("customer_trusted").slice(0, 3))
    sql = "SELECT count(*) AS n FROM customer_trusted"
    assert query(lake, sql).column("n")[0].as_py() == 3
    assert query(lake, sql, TimeTravel(version=first)).column("n")[0].as_py() == before
    as_of = datetime.fromtimestamp(committed / 1000, UTC)
    assert query(lake, sql, TimeTravel(as_of=as_of)).column("n")[0].as_py() == before


def test_time_travel_mistakes_are_explained(lake_root: Path) -> None:
    lake = Lake(str(lake_root), {})
    with pytest.raises(InputError, match="customer_trusted has no version 99: its versions are 0 to"):
        query(lake, "SELECT * FROM customer_trusted", TimeTravel(version=99))
    with pytest.raises(InputError, match="customer_trusted did not exist at 2001-01-01T00:00:00"):
        query(lake, "SELECT * FROM customer_trusted", TimeTravel(as_of=parse_as_of("2001-01-01")))
    with pytest.raises(InputError, match="either --version or --as-of"):
        TimeTravel(version=1, as_of=parse_as_of("2001-01-01"))
    with pytest.raises(InputError, match="names no lakehouse table"):
        query(lake, "SELECT 1")


def test_format_table_aligns_numbers_and_shows_nulls() -> None:
    table = pa.table({"table": ["a", "bbb", None], "rows": [1, 12_000, 3], "x": [0.5, None, 2.0]})
    assert format_table(table, max_rows=2) == "\n".join(
        [
            "table |  rows |    x",
            "------+-------+-----",
            "a     |     1 |  0.5",
            "bbb   | 12000 | NULL",
            "(3 rows, first 2 shown)",
        ]
    )


@pytest.mark.integration
def test_the_query_command_prints_a_table_and_explains_errors(lake_root: Path) -> None:
    ok = stedi(
        "query",
        "--lakehouse",
        str(lake_root),
        'SELECT count(*) AS readings FROM machine_learning_curated WHERE "distanceFromObject" >= 0',
    )
    assert ok.returncode == 0, ok.stderr
    readings = Lake(str(lake_root), {}).count("machine_learning_curated")
    assert ok.stdout.splitlines() == ["readings", "--------", f"{readings:>8}", "(1 row)"]
    bad = stedi("query", "--lakehouse", str(lake_root), "SELECT nope FROM customer_trusted")
    assert bad.returncode == 2  # bad input (stedi.cli.exit_codes)
    assert bad.stderr.startswith("stedi query: Schema error: No field named nope.")
    assert "Traceback" not in bad.stderr
