"""Through the pipeline: a quarantined consent suspends its customer until a valid newer record arrives."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.compute as pc
import pytest

from stedi.generate import GeneratorSpec, generate
from stedi.storage import Lake
from tests.privacy_helpers import BASE, Subject, add_subject, customer_record, write_lines

pytestmark = pytest.mark.slow

SUBJECT = Subject(
    name="Ada Unclear",
    email="ada.unclear@consent.test",
    phone="8015550778",
    serial="0ddba11-0000-4000-8000-00000000abce",
)
TIMES = [BASE + 3_600_000 + 1_000 * i for i in range(10)]
DAY = 86_400_000


def subject_rows(lake: Lake) -> dict[str, int]:
    customers = lake.read("customer_trusted", ["email"])
    readings = lake.read("accelerometer_trusted", ["user"])
    steps = lake.read("step_trainer_trusted", ["serialNumber"])
    return {
        "customer_trusted": int(pc.sum(pc.equal(customers["email"], SUBJECT.email)).as_py() or 0),
        "accelerometer_trusted": int(
            pc.sum(pc.equal(pc.utf8_lower(readings["user"]), SUBJECT.email)).as_py() or 0
        ),
        "step_trainer_trusted": int(pc.sum(pc.equal(steps["serialNumber"], SUBJECT.serial)).as_py() or 0),
    }


def test_a_quarantined_consent_field_suspends_until_a_valid_newer_record(
    tmp_path: Path, prefect_harness: None
) -> None:
    from flows.stedi_lakehouse import stedi_lakehouse

    landing, root = tmp_path / "landing", tmp_path / "lake"
    generate(landing, GeneratorSpec(customers=30, seed=9, files=1))
    add_subject(landing, SUBJECT, TIMES, consent=BASE)
    stedi_lakehouse(landing=str(landing), lakehouse=str(root))
    lake = Lake(str(root), {})
    assert subject_rows(lake) == {
        "customer_trusted": 1,
        "accelerometer_trusted": 10,
        "step_trainer_trusted": 10,
    }

    # A newer record whose consent field cannot be read: it might be a revocation.
    unclear = {**customer_record(SUBJECT, None, BASE + DAY), "shareWithResearchAsOfDate": "withdrawn"}
    write_lines(landing / "customer" / "landing" / "customer-unclear.json", [json.dumps(unclear)])
    summary = stedi_lakehouse(landing=str(landing), lakehouse=str(root))
    assert subject_rows(lake) == {
        "customer_trusted": 0,
        "accelerometer_trusted": 0,
        "step_trainer_trusted": 0,
    }
    assert summary.funnel()["customers"]["suspended"] == 1

    # A valid record, newer than every other, ingested later: its consent is in force again.
    write_lines(
        landing / "customer" / "landing" / "customer-clear.json",
        [customer_record(SUBJECT, BASE, BASE + 2 * DAY)],
    )
    summary = stedi_lakehouse(landing=str(landing), lakehouse=str(root))
    assert subject_rows(lake) == {
        "customer_trusted": 1,
        "accelerometer_trusted": 10,
        "step_trainer_trusted": 10,
    }
    assert summary.funnel()["customers"]["suspended"] == 0
