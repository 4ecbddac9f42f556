"""Erasure through the flows: a reassigned device keeps its later owner's readings; udacity ML loses both."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pytest
from pydantic import SecretStr

from stedi.generate import GeneratorSpec, generate
from stedi.storage import Lake
from tests.privacy_helpers import BASE, Subject, customer_record, write_lines

pytestmark = pytest.mark.slow

ANN = Subject(name="Ann Moved", email="ann.moved@erase.test", phone="8015550001", serial="dev-d")
BOB = Subject(name="Bob Later", email="bob.later@keep.test", phone="8015550002", serial="bob-first")
TIMES = [BASE + 3_600_000 + 1_000 * i for i in range(8)]
SWITCH = TIMES[4]  # ann moves to another device and bob's next record names dev-d


def landing_with_a_reassigned_device(root: Path) -> None:
    generate(root, GeneratorSpec(customers=20, seed=3, files=1))
    write_lines(
        root / "customer" / "landing" / "customer-moved.json",
        [
            customer_record(ANN, BASE, BASE + 1),
            {**customer_record(ANN, BASE, SWITCH), "serialNumber": "ann-new"},
            customer_record(BOB, BASE, BASE + 1),
            {**customer_record(BOB, BASE, SWITCH), "serialNumber": "dev-d"},
        ],
    )
    readings = [
        {"user": s.email, "timestamp": t, "x": 1.0, "y": 0.5, "z": -1.0} for s in (ANN, BOB) for t in TIMES
    ]
    write_lines(root / "accelerometer" / "landing" / "accelerometer-moved.json", readings)
    steps = [{"sensorReadingTime": t, "serialNumber": "dev-d", "distanceFromObject": 222} for t in TIMES]
    write_lines(root / "step_trainer" / "landing" / "step_trainer-moved.json", steps)


def device_times(lake: Lake, table: str) -> list[int]:
    rows = lake.read(table, ["serialNumber", "sensorReadingTime"])
    return sorted(rows.filter(pc.equal(rows["serialNumber"], "dev-d"))["sensorReadingTime"].to_pylist())


def ml_times(lake: Lake) -> list[int]:
    times = lake.read("machine_learning_curated", ["sensorReadingTime"])["sensorReadingTime"]
    return sorted(t for t in set(times.to_pylist()) if t in TIMES)


def built(tmp_path: Path, policy: str) -> tuple[Path, Lake]:
    """The landing root and the lakehouse built from it under `policy`."""
    from flows.stedi_lakehouse import stedi_lakehouse

    landing, root = tmp_path / "landing", tmp_path / "lake"
    landing_with_a_reassigned_device(landing)
    stedi_lakehouse(landing=str(landing), lakehouse=str(root), policy=policy)
    return landing, Lake(str(root), {})


def test_erasing_a_devices_first_owner_keeps_its_later_owners_readings(
    tmp_path: Path, prefect_harness: None
) -> None:
    from flows.erase_subjects import erase_subjects
    from flows.stedi_lakehouse import stedi_lakehouse

    landing, lake = built(tmp_path, "strict")
    assert device_times(lake, "step_trainer_trusted") == TIMES  # ann's until SWITCH, bob's after
    erase_subjects(lakehouse=lake.root, emails=[SecretStr(ANN.email)])
    assert device_times(lake, "step_trainer_landing") == TIMES[4:]
    assert device_times(lake, "step_trainer_trusted") == TIMES[4:]
    # Re-delivered landing files: the tombstone drops ann's readings of dev-d, not bob's.
    stedi_lakehouse(landing=str(landing), lakehouse=lake.root, policy="strict")
    assert device_times(lake, "step_trainer_landing") == TIMES[4:]
    assert device_times(lake, "step_trainer_trusted") == TIMES[4:]
    assert ml_times(lake) == TIMES[4:]


def test_udacity_erasure_removes_ml_rows_built_from_the_subjects_step_readings(
    tmp_path: Path, prefect_harness: None
) -> None:
    from flows.erase_subjects import erase_subjects

    _, lake = built(tmp_path, "udacity")
    assert ml_times(lake) == TIMES  # dev-d's readings joined with ann's and bob's accelerometer rows
    erase_subjects(lakehouse=lake.root, emails=[SecretStr(ANN.email)])
    # Every ML row at a time of a dev-d reading is gone, bob's included (deleting by time over-deletes).
    assert ml_times(lake) == []
