"""The flow on the course's landing data gives the rubric's counts (udacity) and the strict counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from stedi.cli import main
from stedi.storage import Lake

pytestmark = pytest.mark.slow

LANDING = {
    "customer_landing": 956,
    "accelerometer_landing": 81_273,
    "step_trainer_landing": 28_680,
    "quarantine": 0,
}
EXPECTED = {
    "udacity": {
        "customer_trusted": 482,
        "accelerometer_trusted": 40_981,
        "customer_curated": 482,
        "step_trainer_trusted": 14_460,
        "machine_learning_curated": 43_681,
    },
    "strict": {
        "customer_trusted": 482,
        "accelerometer_trusted": 32_025,
        "customer_curated": 464,
        "step_trainer_trusted": 11_297,
        "machine_learning_curated": 32_025,
    },
}


def counts(lakehouse: Path) -> dict[str, int]:
    lake = Lake(str(lakehouse), {})
    return {table: lake.count(table) for table in (*LANDING, *EXPECTED["strict"])}


@pytest.mark.parametrize("policy", ["udacity", "strict"])
def test_course_data_gives_the_policy_counts(
    policy: str, udacity_root: Path, tmp_path: Path, prefect_harness: None
) -> None:
    from flows.stedi_lakehouse import stedi_lakehouse

    summary = stedi_lakehouse(landing=str(udacity_root), lakehouse=str(tmp_path), policy=policy)
    assert counts(tmp_path) == {**LANDING, **EXPECTED[policy]}
    assert {s.table: s.rows for s in summary.steps} == {**LANDING, **EXPECTED[policy]}
    assert summary.failed_expectations() == []


def test_rerunning_stedi_run_keeps_every_row_count(
    udacity_root: Path, tmp_path: Path, prefect_harness: None, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["run", "--landing", str(udacity_root), "--lakehouse", str(tmp_path), "--policy", "udacity"]
    assert main(args) == 0
    first = counts(tmp_path)
    assert "machine_learning_curated" in capsys.readouterr().out
    assert main(args) == 0
    assert "nothing new" in capsys.readouterr().out  # ends before starting Prefect
    assert main([*args, "--always"]) == 0
    assert "trusted and curated tables: unchanged" in capsys.readouterr().out
    assert counts(tmp_path) == first == {**LANDING, **EXPECTED["udacity"]}
