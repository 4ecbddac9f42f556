"""The audits' own formulation of consent and ownership (SQL on DuckDB), checked on tiny tables."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from stedi.audit import (
    CustomerFacts,
    audit_accelerometer_trusted,
    audit_step_trainer_trusted,
    customer_facts,
)
from stedi.policy import Policy
from stedi.schemas import CUSTOMER, QUARANTINE_SCHEMA
from tests.tables import readings, steps

C = 1_660_000_000_000
DAY = 86_400_000
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def landing(*rows: dict[str, Any]) -> pa.Table:
    """customer_landing rows; `ingested` is the delivery number (day after T0)."""
    base = dict.fromkeys(CUSTOMER.schema.names)
    schema = CUSTOMER.schema.append(QUARANTINE_SCHEMA.field("_ingested_at"))
    records = [
        {**base, **{k: v for k, v in r.items() if k != "ingested"}, "_ingested_at": _at(r.get("ingested", 0))}
        for r in rows
    ]
    return pa.Table.from_pylist(records, schema=schema)


def quarantined(*rows: tuple[str, int]) -> pa.Table:
    """Quarantine rows of the customer feed: (raw line, delivery number)."""
    return pa.Table.from_pylist(
        [
            {
                "feed": "customer",
                "source_file": "customer/landing/c.json",
                "line_number": i + 1,
                "reason_code": "wrong_type",
                "reason": "some reason",
                "raw_line": raw,
                "_ingested_at": _at(n),
            }
            for i, (raw, n) in enumerate(rows)
        ],
        schema=QUARANTINE_SCHEMA,
    )


def _at(delivery: int) -> datetime:
    return T0 + timedelta(days=delivery)


def consent(facts: CustomerFacts) -> dict[str, int | None]:
    return dict(zip(facts.consent["key"].to_pylist(), facts.consent["consent_at"].to_pylist(), strict=True))


def rec(
    email: str, updated: int | None, consent_at: int | None, serial: str = "s1", **more: Any
) -> dict[str, Any]:
    return {
        "email": email,
        "serialNumber": serial,
        "lastUpdateDate": updated,
        "shareWithResearchAsOfDate": consent_at,
        **more,
    }


def test_consent_in_force_is_the_newest_records_under_one_normalised_email() -> None:
    facts = customer_facts(
        landing(rec(" A@X.t", C, C), rec("a@x.t\t", C + 1, None), rec("b@x.t", C, C - 5)), None, Policy.STRICT
    )
    assert consent(facts) == {"a@x.t": None, "b@x.t": C - 5}


@pytest.mark.parametrize(
    "records",
    [
        [rec("a@x.t", C, C), rec("a@x.t", None, None)],  # a newer revocation without lastUpdateDate
        [rec("a@x.t", C, C), rec("A@x.t", C, C)],  # two distinct records share the newest date
        [rec("a@x.t", None, C)],
    ],
    ids=["undated-record", "tied-newest", "only-undated"],
)
def test_ambiguous_newest_record_suspends_the_customer(records: list[dict[str, Any]]) -> None:
    facts = customer_facts(landing(*records), None, Policy.STRICT)
    assert consent(facts) == {"a@x.t": None}
    assert facts.consent["suspended"].to_pylist() == [True]


@pytest.mark.parametrize(
    "raw",
    [
        '{"email": "A@x.t", "lastUpdateDate": %d, "shareWithResearchAsOfDate": 0}',
        '{"email": "a@x.t", "lastUpdateDate": %d, "shareWithResearchAsOfDate": ""}',
        '{"email": "a@x.t", "lastUpdateDate": %d, "shareWithResearchAsOfDate": "null"},',
        '{"EMAIL": " a@x.t", "lastUpdateDate": %d, "ShareWithResearchAsOfDate": false}',
        '{"email": "a@x.t", "lastUpdateDate": %d, "email": "a@x.t"}',
        '{"email": "a@x.t", "lastUpdateDate": "%d"}',
    ],
    ids=["zero", "empty", "null-text", "false", "duplicate-keys", "date-as-text"],
)
def test_customer_quarantined_for_consent_time_or_duplicate_keys_is_suspended(raw: str) -> None:
    records = landing(rec("a@x.t", C, C), rec("b@x.t", C, C))
    facts = customer_facts(records, quarantined((raw % (C + DAY), 1)), Policy.STRICT)
    assert consent(facts) == {"a@x.t": None, "b@x.t": C}


def test_other_quarantine_reasons_leave_consent_alone() -> None:
    raw = '{"email": "a@x.t", "phone": 8015551212, "lastUpdateDate": %d, "shareWithResearchAsOfDate": null}'
    bad_json = '{"email": "a@x.t", "shareWithResearchAsOfDate": 0'
    facts = customer_facts(
        landing(rec("a@x.t", C, C)),
        quarantined((raw % (C + DAY), 1), (bad_json, 1), ('{"shareWithResearchAsOfDate": 0}', 1)),
        Policy.STRICT,
    )
    assert consent(facts) == {"a@x.t": C}


def test_suspension_ends_with_a_newer_valid_record_ingested_later() -> None:
    raw = f'{{"email": "a@x.t", "lastUpdateDate": {C + DAY}, "shareWithResearchAsOfDate": 0}}'
    newer = rec("a@x.t", C + 2 * DAY, C + 2 * DAY, ingested=2)
    not_newer = rec("a@x.t", C + DAY, C, ingested=2, phone="1")
    same_delivery = rec("a@x.t", C + 2 * DAY, C + 2 * DAY, ingested=1)
    first = rec("a@x.t", C, C)
    assert consent(customer_facts(landing(first, newer), quarantined((raw, 1)), Policy.STRICT)) == {
        "a@x.t": C + 2 * DAY
    }
    for later in (not_newer, same_delivery):
        assert consent(customer_facts(landing(first, later), quarantined((raw, 1)), Policy.STRICT)) == {
            "a@x.t": None
        }


def test_unreadable_date_of_a_quarantined_record_needs_a_record_newer_than_all_known() -> None:
    raw = '{"email": "a@x.t", "lastUpdateDate": "yesterday", "shareWithResearchAsOfDate": 0}'
    known = [rec("a@x.t", C, C), rec("a@x.t", C + 5, C, ingested=1, phone="1")]
    later = rec("a@x.t", C + 3, C + 3, ingested=2)
    assert consent(customer_facts(landing(*known, later), quarantined((raw, 1)), Policy.STRICT)) == {
        "a@x.t": None
    }
    newer = rec("a@x.t", C + 9, C + 9, ingested=2)
    assert consent(customer_facts(landing(*known, newer), quarantined((raw, 1)), Policy.STRICT)) == {
        "a@x.t": C + 9
    }


def test_an_undated_record_suspends_until_a_newer_record_is_ingested_after_it() -> None:
    undated = rec("a@x.t", None, None, ingested=1)
    known = rec("a@x.t", C, C)
    assert consent(customer_facts(landing(known, undated), None, Policy.STRICT)) == {"a@x.t": None}
    newer = rec("a@x.t", C + 1, C + 1, ingested=2)
    assert consent(customer_facts(landing(known, undated, newer), None, Policy.STRICT)) == {"a@x.t": C + 1}
    not_newer = rec("a@x.t", C, C - 1, ingested=2, phone="1")  # also ties the newest date
    assert consent(customer_facts(landing(known, undated, not_newer), None, Policy.STRICT)) == {"a@x.t": None}


def test_udacity_counts_every_record_with_a_consent_date() -> None:
    facts = customer_facts(landing(rec("a@x.t", C, C), rec("a@x.t", None, None)), None, Policy.UDACITY)
    assert consent(facts) == {"a@x.t": C}


def owners_at(facts: CustomerFacts, *reads: tuple[str, int]) -> list[int]:
    curated = landing(rec("a@x.t", C, C), rec("b@x.t", C, C))
    frame = audit_step_trainer_trusted(steps(*reads), facts, curated)
    return frame["_owners_at_time"].to_pylist()  # type: ignore[no-any-return]


def test_a_device_belongs_to_whoever_named_it_at_the_readings_time() -> None:
    # a names s1 until it names s2 at C+10; b names s1 from its first record on (the beginning of time)
    facts = customer_facts(
        landing(rec("a@x.t", C, C, "S1 "), rec("a@x.t", C + 10, C, "s2"), rec("b@x.t", C + 20, C, "s1")),
        None,
        Policy.STRICT,
    )
    assert owners_at(facts, ("s1", C + 5), ("s1", C + 15), ("s2", C + 5), ("s2", C + 15), ("s3", C)) == [
        2,
        1,
        0,
        1,
        0,
    ]


def test_an_undated_record_names_its_device_at_all_times() -> None:
    facts = customer_facts(
        landing(rec("a@x.t", C, C, "s1"), rec("b@x.t", None, None, "s1")), None, Policy.STRICT
    )
    assert owners_at(facts, ("s1", C - 1), ("s1", C + 99)) == [2, 2]


def _audit_in_worker(facts: CustomerFacts, table: pa.Table) -> pa.Table:
    return audit_accelerometer_trusted(table, facts)


@pytest.mark.integration
def test_audit_runs_in_a_fresh_worker_process() -> None:
    facts = customer_facts(landing(rec("a@x.t", C, C)), None, Policy.STRICT)
    table = readings(("a@x.t", C), ("b@x.t", C))
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn) as pool:
        remote = pool.submit(_audit_in_worker, facts, table).result(timeout=120)
    assert remote.equals(audit_accelerometer_trusted(table, facts))
    assert remote["_consent_at"].to_pylist() == [C, None]
