"""The `stedi` command as a user runs it, in a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable

from stedi.generate import GeneratorSpec, generate

pytestmark = pytest.mark.integration


def stedi(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stedi.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        check=False,
    )


def test_blocking_validation_failure_exits_non_zero_naming_table_and_expectation(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    generate(landing, GeneratorSpec(customers=20, seed=3, files=1))
    customer_file = next((landing / "customer" / "landing").glob("*.json"))
    broken = [json.loads(line) for line in customer_file.read_text().splitlines()]
    for record in broken:
        record["email"] = record["email"].replace("@", " at ")  # a broken export: no address is an email
    customer_file.write_text("".join(json.dumps(r) + "\n" for r in broken))
    result = stedi("run", "--landing", str(landing), "--lakehouse", str(tmp_path / "lake"), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    lines = [x for x in result.stderr.splitlines() if x.startswith("stedi run: ")]
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("stedi run: customer_landing: expect_column_values_to_match_regex on email failed")
    # Nothing was published: the aborted stream committed no Delta version (the Parquet files it
    # had written are not part of any table; the maintenance vacuum removes them).
    assert not DeltaTable.is_deltatable(str(tmp_path / "lake" / "landing" / "customer_landing"))


def test_landing_without_the_layout_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "landing").mkdir()
    result = stedi(
        "run", "--landing", str(tmp_path / "landing"), "--lakehouse", str(tmp_path / "lake"), cwd=tmp_path
    )
    assert result.returncode == 1
    assert "expected the layout <landing>/customer/landing/*.json" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_policy_is_refused(tmp_path: Path) -> None:
    result = stedi("run", "--landing", "x", "--lakehouse", "y", "--policy", "lenient", cwd=tmp_path)
    assert result.returncode == 2
    assert "invalid choice: 'lenient'" in result.stderr


def test_generate_and_tables(tmp_path: Path) -> None:
    assert stedi("generate", "--out", str(tmp_path / "l"), "--customers", "5", cwd=tmp_path).returncode == 0
    result = stedi("tables", "--lakehouse", str(tmp_path / "lake"), cwd=tmp_path)
    assert result.returncode == 0
    assert "machine_learning_curated" in result.stdout and "(missing)" in result.stdout
