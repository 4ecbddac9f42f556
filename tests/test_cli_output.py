"""What `stedi` prints: `--version`, one JSON document with `--json`, progress only on a terminal."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cli_process import TerminalRun, parsed, small_landing, stedi, stedi_on_terminal

pytestmark = pytest.mark.integration

# A progress line: the table name, then its rows ("machine_learning_curated      6,762 rows").
# Log lines name tables differently ("machine_learning_curated: 6762 rows published ...").
PROGRESS_LINE = re.compile(r"\b(customer_landing|machine_learning_curated) +[\d,]+ rows\b")
LANDING_TABLES = ("customer_landing", "accelerometer_landing", "step_trainer_landing")
TERMINAL_CODES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True)
class Built:
    landing: Path
    lakehouse: Path
    run: TerminalRun
    env: dict[str, str]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Built:
    """One real `stedi run --json` with stderr on a terminal, over landing data with one broken line."""
    from prefect.settings import PREFECT_API_URL

    root = tmp_path_factory.mktemp("cli-output")
    landing = small_landing(root / "landing")
    customer_file = next((landing / "customer" / "landing").glob("*.json"))
    with customer_file.open("a") as f:
        f.write("{this is not json}\n")
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    lakehouse = root / "lake"
    run = stedi_on_terminal(
        "run", "--landing", str(landing), "--lakehouse", str(lakehouse), "--json", cwd=root, env=env
    )
    assert run.returncode == 0, run.terminal
    return Built(landing, lakehouse, run, env)


def read_json(built: Built, *args: str) -> Any:
    result = stedi(*args, "--lakehouse", str(built.lakehouse), cwd=built.lakehouse.parent, env=built.env)
    assert result.returncode == 0, result.stderr
    return parsed(result.stdout)


def test_version_prints_the_installed_version(tmp_path: Path) -> None:
    from importlib.metadata import version

    result = stedi("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout == f"stedi {version('stedi-lakehouse')}\n"


@pytest.mark.slow
def test_run_json_is_the_only_thing_on_stdout_and_progress_shows_on_a_terminal(built: Built) -> None:
    summary = parsed(built.run.stdout)
    assert {"status", "policy", "rebuilt", "steps", "ingest", "funnel", "flow_s"} <= set(summary)
    assert summary["status"] == "ran"
    assert {s["table"] for s in summary["steps"]} >= {
        *LANDING_TABLES,
        "quarantine",
        "machine_learning_curated",
    }
    assert summary["ingest"]["customer"]["rows_quarantined"] == 1
    shown = {m.group(1) for m in PROGRESS_LINE.finditer(TERMINAL_CODES.sub(" ", built.run.terminal))}
    assert shown == {"customer_landing", "machine_learning_curated"}, built.run.terminal[-2000:]


@pytest.mark.slow
def test_no_progress_when_stderr_is_not_a_terminal(built: Built) -> None:
    result = stedi(
        "run", "--landing", str(built.landing), "--lakehouse", str(built.lakehouse), "--full-refresh",
        cwd=built.lakehouse.parent, env=built.env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("table ")
    assert "Flow run" in result.stderr  # the logs are there ...
    assert not PROGRESS_LINE.search(result.stderr + result.stdout)  # ... the progress display is not


@pytest.mark.slow
def test_run_json_when_nothing_is_new(built: Built) -> None:
    document = read_json(built, "run", "--landing", str(built.landing), "--json")
    assert document == {
        "status": "nothing_new",
        "landing": str(built.landing),
        "lakehouse": str(built.lakehouse),
    }


@pytest.mark.slow
def test_tables_json(built: Built) -> None:
    document = read_json(built, "tables", "--json")
    assert document["lakehouse"] == str(built.lakehouse)
    tables = {t["table"]: t for t in document["tables"]}
    assert set(tables) >= {*LANDING_TABLES, "quarantine", "machine_learning_curated"}
    assert all(t["exists"] and t["version"] >= 0 for t in tables.values())
    summary = parsed(built.run.stdout)
    assert tables["machine_learning_curated"]["rows"] == summary["funnel"]["machine_learning_curated"]["rows"]
    assert (tables["quarantine"]["zone"], tables["quarantine"]["rows"]) == ("landing", 1)


@pytest.mark.slow
def test_quarantine_json(built: Built) -> None:
    document = read_json(built, "quarantine", "--json", "--show", "1")
    assert document["exists"] is True and document["rows"] == 1
    [group] = document["groups"]
    assert (group["feed"], group["count"]) == ("customer", 1)
    [example] = group["examples"]
    assert set(example) == {"source_file", "line_number", "reason", "raw_line"}
    assert example["raw_line"] == "{this is not json}"


@pytest.mark.slow
def test_privacy_report_json(built: Built) -> None:
    document = read_json(built, "privacy-report", "--json")
    assert document["policy"] == "strict"
    for funnel in ("customers", "accelerometer", "step_trainer", "erasures"):
        assert document[funnel], funnel
        assert all(set(stage) == {"stage", "count"} for stage in document[funnel])
    landing = next(
        t for t in read_json(built, "tables", "--json")["tables"] if t["table"] == "customer_landing"
    )
    assert document["customers"][0] == {"stage": "records", "count": landing["rows"]}


@pytest.mark.slow
def test_query_json(built: Built) -> None:
    document = read_json(built, "query", "SELECT count(*) AS n FROM customer_trusted", "--json")
    trusted = next(
        t for t in read_json(built, "tables", "--json")["tables"] if t["table"] == "customer_trusted"
    )
    assert document == {
        "columns": [{"name": "n", "type": "int64"}],
        "rows": [{"n": trusted["rows"]}],
        "row_count": 1,
    }


@pytest.mark.slow
def test_ddl_json(built: Built) -> None:
    document = read_json(built, "ddl", "--json", "--location", "s3://bucket/stedi")
    assert document["database"] == "stedi"
    assert "CREATE EXTERNAL TABLE `stedi`.`machine_learning_curated`" in document["ddl"]
    ml = next(t for t in document["tables"] if t["table"] == "machine_learning_curated")
    assert ml["location"] == "s3://bucket/stedi/curated/machine_learning_curated"
    assert ml["exists"] and {"name": "sensorReadingTime", "type": "bigint"} in ml["columns"]
