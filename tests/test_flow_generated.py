"""The flow on generated data matches counts computed independently in plain Python."""

from __future__ import annotations

from pathlib import Path

import pytest

from stedi.generate import GeneratorSpec, generate
from stedi.storage import Lake
from tests.expected import strict_counts

pytestmark = pytest.mark.slow


def test_strict_flow_matches_an_independent_computation(tmp_path: Path, prefect_harness: None) -> None:
    from flows.stedi_lakehouse import stedi_lakehouse

    landing = tmp_path / "landing"
    generate(landing, GeneratorSpec(customers=400, seed=11))
    expected = strict_counts(landing)
    assert expected["customer_trusted"] > expected["customer_curated"] > 0  # the data exercises the rules
    summary = stedi_lakehouse(landing=str(landing), lakehouse=str(tmp_path / "lake"))
    lake = Lake(str(tmp_path / "lake"), {})
    assert {table: lake.count(table) for table in expected} == expected
    assert summary.count("step_trainer_trusted", "of_unattributable_devices") > 0
    assert summary.count("accelerometer_trusted", "before_consent") > 0
