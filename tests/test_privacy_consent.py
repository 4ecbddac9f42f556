"""Consent over time: a revocation in a newer customer record takes effect on the next run."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from stedi.config import subject_salt
from stedi.generate import GeneratorSpec, generate
from stedi.privacy.keys import keyed_hash
from stedi.storage import Lake
from tests.privacy_helpers import BASE, Subject, add_subject, customer_record, write_lines

pytestmark = pytest.mark.slow

SUBJECT = Subject(
    name="Ada Revoke",
    email="ada.revoke@consent.test",
    phone="8015550777",
    serial="0ddba11-0000-4000-8000-00000000abcd",
)
TIMES = [BASE + 3_600_000 + 1_000 * i for i in range(10)]


def times_of(lake: Lake, table: str, column: str, value: str, time: str) -> list[int]:
    t = lake.read(table, [column, time])
    return sorted(t.filter(pc.equal(pc.utf8_lower(t[column]), value))[time].to_pylist())


def trusted_view(lake: Lake, subject_id: str) -> dict[str, list[int]]:
    email = SUBJECT.email
    customers = lake.read("customer_trusted", ["email", "shareWithResearchAsOfDate"])
    curated = lake.read("customer_curated", ["email"])
    return {
        "customer_trusted": customers.filter(pc.equal(pc.utf8_lower(customers["email"]), email))[
            "shareWithResearchAsOfDate"
        ].to_pylist(),
        "customer_curated": [1] * int(pc.sum(pc.equal(pc.utf8_lower(curated["email"]), email)).as_py() or 0),
        "accelerometer_trusted": times_of(lake, "accelerometer_trusted", "user", email, "timestamp"),
        "step_trainer_trusted": times_of(
            lake, "step_trainer_trusted", "serialNumber", SUBJECT.serial, "sensorReadingTime"
        ),
        "machine_learning_curated": times_of(
            lake, "machine_learning_curated", "subject_id", subject_id, "sensorReadingTime"
        ),
    }


def newer_record(landing: Path, name: str, consent: int | None, updated: int) -> None:
    write_lines(
        landing / "customer" / "landing" / f"customer-{name}.json",
        [customer_record(SUBJECT, consent, updated, email=SUBJECT.email.upper())],
    )


def test_revocation_removes_every_row_and_reconsent_brings_back_only_later_readings(
    tmp_path: Path, prefect_harness: None
) -> None:
    from flows.stedi_lakehouse import stedi_lakehouse

    landing, root = tmp_path / "landing", tmp_path / "lake"
    generate(landing, GeneratorSpec(customers=30, seed=9, files=1))
    add_subject(landing, SUBJECT, TIMES, consent=BASE)
    stedi_lakehouse(landing=str(landing), lakehouse=str(root))
    lake = Lake(str(root), {})
    subject_id = keyed_hash(SUBJECT.email, subject_salt(str(root)).value)
    first = trusted_view(lake, subject_id)
    assert first["customer_trusted"] == [BASE]
    assert first["step_trainer_trusted"] == TIMES
    assert sorted(set(first["machine_learning_curated"])) == TIMES

    # A newer record without consent arrives in a new landing file.
    newer_record(landing, "revoked", None, BASE + 86_400_000)
    stedi_lakehouse(landing=str(landing), lakehouse=str(root))
    assert all(rows == [] for rows in trusted_view(lake, subject_id).values())

    # Later the customer consents again, as of the sixth reading: only readings from then on return.
    newer_record(landing, "reconsented", TIMES[5], BASE + 2 * 86_400_000)
    stedi_lakehouse(landing=str(landing), lakehouse=str(root))
    again = trusted_view(lake, subject_id)
    assert again["customer_trusted"] == [TIMES[5]]
    assert again["step_trainer_trusted"] == TIMES[5:]
    assert again["accelerometer_trusted"] == TIMES[5:]
    assert sorted(set(again["machine_learning_curated"])) == TIMES[5:]
    assert pa.array(again["machine_learning_curated"]).type == pa.int64()
