"""Units of days on the default process pool give the same tables as one unit in the flow process."""

from __future__ import annotations

from pathlib import Path

import pytest

from stedi.generate import GeneratorSpec, generate
from stedi.storage import Lake
from tests.lakes import content

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def test_units_on_worker_processes_equal_one_unit_in_the_flow_process(
    tmp_path: Path, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.stedi_lakehouse import stedi_lakehouse

    landing = tmp_path / "landing"
    generate(landing, GeneratorSpec(customers=120, seed=9, files=2))
    single = stedi_lakehouse(landing=str(landing), lakehouse=str(tmp_path / "one-unit"))
    monkeypatch.setattr("tasks.plan.MIN_PARALLEL_ROWS", 0)
    monkeypatch.setattr("tasks.plan.TARGET_UNIT_ROWS", 2_000)
    pooled = stedi_lakehouse(landing=str(landing), lakehouse=str(tmp_path / "units"))

    assert content(tmp_path / "units") == content(tmp_path / "one-unit")
    one, many = Lake(str(tmp_path / "one-unit"), {}), Lake(str(tmp_path / "units"), {})
    for table in ("accelerometer_trusted", "step_trainer_trusted", "machine_learning_curated"):
        assert one.version(table) == many.version(table)  # still one commit per table
        in_flow, on_pool = single.step(table), pooled.step(table)
        assert in_flow is not None and on_pool is not None
        assert on_pool.counts == in_flow.counts
