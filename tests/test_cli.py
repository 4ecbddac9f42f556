"""The `stedi` command as a user runs it, in a real subprocess (exit codes: test_cli_exit_codes.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_process import stedi

pytestmark = pytest.mark.integration


def test_unknown_policy_is_refused(tmp_path: Path) -> None:
    result = stedi("run", "--landing", "x", "--lakehouse", "y", "--policy", "lenient", cwd=tmp_path)
    assert result.returncode == 2
    assert "invalid choice: 'lenient'" in result.stderr


def test_generate_and_tables(tmp_path: Path) -> None:
    assert stedi("generate", "--out", str(tmp_path / "l"), "--customers", "5", cwd=tmp_path).returncode == 0
    result = stedi("tables", "--lakehouse", str(tmp_path / "lake"), cwd=tmp_path)
    assert result.returncode == 0
    assert "machine_learning_curated" in result.stdout and "(missing)" in result.stdout
