"""Every kind of bad or awkward record, through a real run: exact counts, good rows always load."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from stedi.storage import Lake
from tests.lakes import empty_landing

pytestmark = pytest.mark.slow

T = 1_655_564_444_000
USER = "a@x.test"


def reading(offset: int, **changes: object) -> str:
    return json.dumps({"user": USER, "timestamp": T + offset, "x": 1.0, "y": 0.0, "z": -1.0, **changes})


def write(folder: Path, name: str, data: str | bytes) -> None:
    (folder / name).write_bytes(data.encode() if isinstance(data, str) else data)


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = empty_landing(tmp_path_factory.mktemp("landing"))
    accel = root / "accelerometer" / "landing"
    clean = [reading(0), reading(1), reading(2)]
    write(accel, "clean.json", "\n".join(clean) + "\n")
    write(accel, "quirks.json", "\ufeff" + reading(3) + ",\r\n" + reading(4) + ",\r\n")
    bad = [
        reading(10),
        "this is not json",
        "5",
        reading(11, x="abc"),
        reading(12, timestamp=str(T)),
        json.dumps({"timestamp": T + 13, "x": 1.0}),
        json.dumps({"user": USER, "x": 1.0}),
        reading(14, user=None),
        reading(15, timestamp=(T + 15) // 1000),
        reading(16, timestamp=32_503_680_000_000),
        reading(17, device="phone-7"),
        reading(10),
    ]
    invalid_utf8 = b'{"user": "\xff\xfe", "timestamp": 1655564444018}'
    truncated = reading(19)[:25]
    write(accel, "bad.json", ("\n".join(bad) + "\n").encode() + invalid_utf8 + b"\n" + truncated.encode())
    write(accel, "dupes.json", "\n".join(clean) + "\n")
    write(accel, "array.json", "[" + reading(20) + ", " + reading(21) + "]")
    write(accel, "empty.json", "")
    write(accel, "blank.json", "  \n\t\n  ")
    write(accel, "zipped.json.gz", gzip.compress((reading(22) + "\n" + reading(23) + "\n").encode()))
    write(accel, "long.json", reading(24, blob="b" * 10_000_000) + "\n")
    customer = {
        "customerName": "A",
        "email": USER,
        "shareWithResearchAsOfDate": T - 1,
        "lastUpdateDate": T - 1,
        "serialNumber": "s-1",
        "registrationDate": T - 1,
    }
    write(
        root / "customer" / "landing",
        "customers.json",
        "\n".join(
            [json.dumps(customer), json.dumps({"customerName": "B"}), json.dumps({**customer, "email": None})]
        ),
    )
    step = {"sensorReadingTime": T, "serialNumber": "s-1", "distanceFromObject": 200}
    write(
        root / "step_trainer" / "landing",
        "steps.json",
        "\n".join(
            [json.dumps(step), json.dumps({"sensorReadingTime": T + 1}), json.dumps({"serialNumber": "s-1"})]
        ),
    )
    return root


def test_every_bad_record_is_accounted_for(landing: Path, tmp_path: Path, prefect_harness: None) -> None:
    from flows.stedi_lakehouse import stedi_lakehouse

    summary = stedi_lakehouse(landing=str(landing), lakehouse=str(tmp_path))
    lake = Lake(str(tmp_path), {})
    accel = lake.read("accelerometer_landing")
    assert sorted(t - T for t in accel["timestamp"].to_pylist()) == [
        0,
        1,
        2,
        3,
        4,
        10,
        17,
        20,
        21,
        22,
        23,
        24,
    ]
    extras = {json.loads(e).get("device") for e in accel["_extra"].to_pylist() if e}
    assert extras == {"phone-7", None}  # the 10 MB blob is kept too, under its own key
    assert summary.ingest()["accelerometer"]["rows_deduplicated"] == 4
    quarantine = lake.read("quarantine").to_pylist()
    by_feed = Counter((q["feed"], q["reason_code"]) for q in quarantine)
    assert by_feed == {
        ("accelerometer", "invalid_json"): 2,
        ("accelerometer", "not_an_object"): 1,
        ("accelerometer", "wrong_type"): 2,
        ("accelerometer", "missing_required"): 3,
        ("accelerometer", "implausible_time"): 2,
        ("accelerometer", "invalid_utf8"): 1,
        ("customer", "missing_required"): 2,
        ("step_trainer", "missing_required"): 2,
    }
    assert all(
        q["source_file"] and q["line_number"] > 0 and q["reason"] and q["raw_line"] for q in quarantine
    )
    assert lake.count("customer_landing") == 1
    assert lake.count("step_trainer_landing") == 1


def test_quarantine_command_lists_records_by_reason(
    landing: Path, tmp_path: Path, prefect_harness: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from stedi.cli import main

    assert main(["run", "--landing", str(landing), "--lakehouse", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["quarantine", "--lakehouse", str(tmp_path), "--show", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("15 quarantined records")
    assert "accelerometer / implausible_time: 2" in out
    assert "accelerometer/landing/bad.json:" in out
