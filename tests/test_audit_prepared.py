"""The audits prepare their facts once per facts object and still mean what the facts define.

The reading audits keep what they derive from the customer facts (customers numbered, ownership as
segments of each device's time line, consent per subject) in a database that lives with the facts:
these tests check that reuse, threads and pickling change no result, and that ownership by segments
counts exactly the facts' ownership spans in force at each reading's time.
"""

from __future__ import annotations

import pickle
import random
import shutil
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from stedi.audit import (
    AUDIT_COLUMNS,
    CustomerFacts,
    audit_accelerometer_trusted,
    audit_machine_learning_curated,
    audit_step_trainer_trusted,
    customer_facts,
)
from stedi.policy import Policy
from stedi.schemas import ML_SCHEMA
from stedi.storage import Lake
from stedi.subject import subject_id
from tasks.audit_inputs import audit_facts
from tests.tables import customers, readings, steps

C = 1_660_000_000_000
SALT = b"prepared-salt"
SERIALS = ["s1", "S1 ", "s2"]


def rec(email: str, updated: int | None, serial: str, consent: int | None = C) -> dict[str, Any]:
    return {
        "email": email,
        "serialNumber": serial,
        "lastUpdateDate": updated,
        "shareWithResearchAsOfDate": consent,
    }


def random_records(seed: int) -> pa.Table:
    rng = random.Random(seed)
    emails = ["a@x.t", " A@x.t", "b@x.t", "c@x.t", "d@x.t"]
    dates = [C, C + 10, C + 20, C + 30, None]
    return customers(
        *(rec(rng.choice(emails), rng.choice(dates), rng.choice(SERIALS)) for _ in range(rng.randint(1, 9)))
    )


def owners_by_spans(facts: CustomerFacts, serial: str, t: int) -> int:
    """How many customers the facts' ownership spans name for `serial` at `t` (the definition, by hand)."""
    return len(
        {
            span["key"]
            for span in facts.ownership.to_pylist()
            if span["serial"] == serial.strip().lower()
            and (span["valid_from"] is None or t >= span["valid_from"])
            and (span["valid_to"] is None or t < span["valid_to"])
        }
    )


@pytest.mark.parametrize("seed", range(30))
def test_owners_at_a_readings_time_are_the_spans_in_force_then(seed: int) -> None:
    facts = customer_facts(random_records(seed), None, Policy.STRICT)
    times = [C + t for t in range(-5, 45, 5)] + [C + t for t in (1, 9, 11, 19, 21, 29, 31)]
    reads = steps(*[(s, t) for s in [*SERIALS, "s3"] for t in times])
    audited = audit_step_trainer_trusted(reads, facts, customers())
    expected = [owners_by_spans(facts, s, t) for s, t in zip(*_columns(reads), strict=True)]
    assert audited["_owners_at_time"].to_pylist() == expected


def _columns(reads: pa.Table) -> tuple[list[str], list[int]]:
    return reads["serialNumber"].to_pylist(), reads["sensorReadingTime"].to_pylist()


def test_each_curated_table_gets_its_own_consent_while_the_facts_stay_prepared() -> None:
    landing = customers(rec("a@x.t", C, "s1"), rec("b@x.t", C, "s2"))
    facts = customer_facts(landing, None, Policy.STRICT)
    reads = steps(("s1", C + 1), ("s2", C + 1))
    only_a, only_b = customers(rec("a@x.t", C, "s1")), customers(rec("b@x.t", C, "s2"))
    assert audit_step_trainer_trusted(reads, facts, only_a)["_consent_at"].to_pylist() == [C, None]
    assert audit_step_trainer_trusted(reads, facts, only_b)["_consent_at"].to_pylist() == [None, C]
    again = audit_step_trainer_trusted(reads, facts, only_a)
    assert again["_consent_at"].to_pylist() == [C, None]
    assert again["_owners_at_time"].to_pylist() == [1, 1]


def ml_inputs() -> tuple[CustomerFacts, pa.Table, pa.Table, pa.Table]:
    """a owns s0 and b owns s1, both consenting; candidate rows right, crossed and of an unknown subject."""
    landing = customers(rec("a@x.t", C, "s0"), rec(" B@x.t", C, "s1"))
    facts = customer_facts(landing, None, Policy.STRICT, SALT)
    step = steps(("s0", C + 1), ("s1", C + 2))
    reading = readings(("a@x.t", C + 1), ("b@x.t", C + 2))
    a, b = subject_id("a@x.t", SALT), subject_id("b@x.t", SALT)
    rows = [(a, C + 1), (b, C + 2), (a, C + 2), ("f" * 64, C + 1)]
    candidate = pa.Table.from_pylist(
        [
            {
                "subject_id": s,
                "sensorReadingTime": t,
                "distanceFromObject": 200,
                "x": 1.0,
                "y": 0.0,
                "z": -1.0,
            }
            for s, t in rows
        ],
        schema=ML_SCHEMA,
    )
    return facts, candidate, step, reading


def test_ml_audit_columns_follow_the_candidates_row_order() -> None:
    facts, candidate, step, reading = ml_inputs()
    a, b = candidate["subject_id"][0].as_py(), candidate["subject_id"][1].as_py()
    for order in ([0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]):
        shuffled = candidate.take(order)
        audited = audit_machine_learning_curated(shuffled, facts, step, reading)
        expected = [(a, a, C), (b, b, C), (None, None, C), (None, None, None)]
        got = zip(
            *(audited[c].to_pylist() for c in ("_step_subject", "_accel_subject", "_consent_at")), strict=True
        )
        assert list(got) == [expected[i] for i in order]


def audits(facts: CustomerFacts, ml_facts: CustomerFacts) -> list[pa.Table]:
    _, candidate, step, reading = ml_inputs()
    curated = customers(rec("a@x.t", C, "s0"))
    return [
        audit_accelerometer_trusted(reading, facts),
        audit_step_trainer_trusted(step, facts, curated),
        audit_machine_learning_curated(candidate, ml_facts, step, reading),
    ]


def test_audits_in_threads_at_once_on_unprepared_facts_agree_with_one_at_a_time() -> None:
    landing = customers(rec("a@x.t", C, "s0"), rec(" B@x.t", C, "s1"))
    alone = audits(customer_facts(landing, None, Policy.STRICT), ml_inputs()[0])
    facts, ml_facts = customer_facts(landing, None, Policy.STRICT), ml_inputs()[0]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda _: audits(facts, ml_facts), range(16)))
    assert all(t.equals(a) for results in together for t, a in zip(results, alone, strict=True))


def test_prepared_facts_pickle_without_their_database_and_audit_the_same() -> None:
    landing = customers(rec("a@x.t", C, "s0"), rec(" B@x.t", C, "s1"))
    facts, ml_facts = customer_facts(landing, None, Policy.STRICT), ml_inputs()[0]
    before = audits(facts, ml_facts)  # prepares both
    copies = pickle.loads(pickle.dumps((facts, ml_facts)))
    assert copies[0].consent.equals(facts.consent)
    after = audits(*copies)
    assert all(x.equals(y) for x, y in zip(after, before, strict=True))


def test_salted_facts_share_what_was_prepared_and_audit_each_salt_by_its_own_ids() -> None:
    facts, candidate, step, reading = ml_inputs()
    plain = customer_facts(customers(rec("a@x.t", C, "s0"), rec(" B@x.t", C, "s1")), None, Policy.STRICT)
    audit_step_trainer_trusted(step, plain, customers())  # prepares customers and ownership
    salted, other = plain.with_salt(SALT), plain.with_salt(b"another-salt")
    assert salted.database is plain.database is other.database
    assert salted.subjects.equals(facts.subjects) and salted.consent.equals(facts.consent)
    expected = audit_machine_learning_curated(candidate, facts, step, reading)
    assert audit_machine_learning_curated(candidate, salted, step, reading).equals(expected)
    # the same rows under another salt's facts: no subject id is known, so nothing is attributed
    crossed = audit_machine_learning_curated(candidate, other, step, reading)
    assert crossed["_consent_at"].null_count == crossed["_step_subject"].null_count == candidate.num_rows


def write_customers(lake: Lake, *rows: dict[str, Any]) -> None:
    data, at = customers(*rows), datetime(2026, 1, 1, tzinfo=UTC)
    data = data.append_column("_ingested_at", pa.array([at] * data.num_rows, pa.timestamp("us", "UTC")))
    data = data.append_column("_source_file", pa.array(["c.json"] * data.num_rows))
    write_deltalake(lake.uri("customer_landing"), data, mode="append")


def test_audit_facts_are_read_once_per_version_of_the_customer_inputs(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"), {})
    write_customers(lake, rec("a@x.t", C, "s0"))
    first = audit_facts(lake, Policy.STRICT)
    assert audit_facts(lake, Policy.STRICT) is first
    assert audit_facts(lake, Policy.STRICT, SALT).database is first.database
    write_customers(lake, rec("a@x.t", C + 1, "s0", consent=None))  # a newer record revokes
    second = audit_facts(lake, Policy.STRICT)
    assert second is not first and second.consent["consent_at"].to_pylist() == [None]
    # made again at the same place: version 0 again, but another table
    shutil.rmtree(tmp_path / "lake")
    write_customers(lake, rec("b@x.t", C, "s0"))
    assert audit_facts(lake, Policy.STRICT).consent["key"].to_pylist() == ["b@x.t"]


@pytest.mark.parametrize("policy", [Policy.STRICT, Policy.UDACITY])
def test_an_empty_day_audits_to_an_empty_frame_with_the_audit_columns(policy: Policy) -> None:
    facts = customer_facts(customers(rec("a@x.t", C, "s0")), None, policy, SALT)
    _, candidate, step, reading = ml_inputs()
    frames = {
        "accelerometer_trusted": audit_accelerometer_trusted(reading.slice(0, 0), facts),
        "step_trainer_trusted": audit_step_trainer_trusted(step.slice(0, 0), facts, customers()),
        "machine_learning_curated": audit_machine_learning_curated(
            candidate.slice(0, 0), facts, step.slice(0, 0), reading.slice(0, 0)
        ),
    }
    for table, frame in frames.items():
        assert frame.num_rows == 0
        assert frame.schema.names[-len(AUDIT_COLUMNS[table]) :] == [f.name for f in AUDIT_COLUMNS[table]]
