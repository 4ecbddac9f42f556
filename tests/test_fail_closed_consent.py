"""Consent fails closed: a customer whose newest record is unclear counts as not consenting."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from stedi.policy import Policy
from stedi.rules.customers import customer_trusted
from stedi.rules.suspension import suspended_customers
from stedi.schemas import CUSTOMER, QUARANTINE_SCHEMA
from tests.tables import customers

C = 1_660_000_000_000
A = {"email": "a@x.t", "serialNumber": "s1", "lastUpdateDate": C, "shareWithResearchAsOfDate": C}


def at(minute: int) -> datetime:
    return datetime(2026, 1, 1, 0, minute, tzinfo=UTC)


def landed(*rows: tuple[dict[str, Any], int, str]) -> pa.Table:
    """Customer records with lineage: (record, minute it was ingested, source file)."""
    table = customers(*(r for r, _, _ in rows))
    table = table.append_column(
        "_ingested_at", pa.array([at(m) for _, m, _ in rows], pa.timestamp("us", "UTC"))
    )
    return table.append_column("_source_file", pa.array([f for _, _, f in rows], pa.string()))


def quarantine(*rows: tuple[dict[str, Any] | str, str, str, int]) -> pa.Table:
    """Quarantined customer lines: (record or raw text, reason code, reason, minute ingested)."""
    return pa.Table.from_pylist(
        [
            {
                "feed": "customer",
                "source_file": f"q{minute}.json",
                "line_number": 1,
                "reason_code": code,
                "reason": reason,
                "raw_line": raw if isinstance(raw, str) else json.dumps(raw),
                "_ingested_at": at(minute),
            }
            for raw, code, reason, minute in rows
        ],
        schema=QUARANTINE_SCHEMA,
    )


def trusted(table: pa.Table, q: pa.Table | None = None) -> list[str]:
    return customer_trusted(table, Policy.STRICT, q).table["email"].to_pylist()


def test_a_revocation_without_last_update_date_suspends_the_customer() -> None:
    revocation = {**A, "lastUpdateDate": None, "shareWithResearchAsOfDate": None}
    table = landed((A, 1, "a.json"), (revocation, 2, "b.json"))
    result = customer_trusted(table, Policy.STRICT)
    assert result.table.num_rows == 0
    assert result.counts["suspended_customers"] == 1
    assert result.counts["latest_record_without_consent"] == 0


def test_equal_newest_last_update_dates_suspend_the_customer() -> None:
    other = {**A, "shareWithResearchAsOfDate": C + 5}  # same lastUpdateDate, another consent date
    assert trusted(landed((A, 1, "a.json"), (other, 2, "b.json"))) == []
    assert suspended_customers(landed((A, 1, "a.json"), (other, 2, "b.json"))).keys.to_pylist() == ["a@x.t"]


def test_an_older_tie_does_not_suspend_when_the_newest_record_is_unique() -> None:
    tie = {**A, "shareWithResearchAsOfDate": None}
    newest = {**A, "lastUpdateDate": C + 10}
    assert trusted(landed((A, 1, "a.json"), (tie, 1, "b.json"), (newest, 1, "c.json"))) == ["a@x.t"]


def test_a_record_quarantined_for_its_consent_field_suspends_the_customer() -> None:
    bad = {**A, "lastUpdateDate": C + 1, "shareWithResearchAsOfDate": "yesterday"}
    q = quarantine((bad, "wrong_type", "shareWithResearchAsOfDate: expected int64, got str", 2))
    result = customer_trusted(landed((A, 1, "a.json")), Policy.STRICT, q)
    assert result.table.num_rows == 0
    assert result.counts["suspended_customers"] == 1


def test_a_quarantine_of_another_field_does_not_suspend() -> None:
    bad = {**A, "phone": 5}
    q = quarantine((bad, "wrong_type", "phone: expected string, got int 5", 2))
    assert trusted(landed((A, 1, "a.json")), q) == ["a@x.t"]


def test_a_record_with_duplicate_keys_suspends_the_customer_by_its_normalised_email() -> None:
    raw = '{"email": " A@X.T ", "shareWithResearchAsOfDate": 1, "shareWithResearchAsOfDate": null}'
    q = quarantine(
        (raw, "duplicate_keys", "shareWithResearchAsOfDate appears more than once in one record", 2)
    )
    assert trusted(landed((A, 1, "a.json")), q) == []


def test_unreadable_quarantined_lines_are_counted() -> None:
    q = quarantine(("{not json", "implausible_time", "lastUpdateDate: 5 is not ...", 2))
    result = customer_trusted(landed((A, 1, "a.json")), Policy.STRICT, q)
    assert result.table["email"].to_pylist() == ["a@x.t"]
    assert result.counts["suspensions_unidentified"] == 1


def test_a_valid_newer_record_ingested_later_clears_the_suspension() -> None:
    undated = {**A, "lastUpdateDate": None, "shareWithResearchAsOfDate": None}
    newer = {**A, "lastUpdateDate": C + 10, "shareWithResearchAsOfDate": C + 10}
    assert trusted(landed((A, 1, "a.json"), (undated, 2, "b.json"), (newer, 3, "c.json"))) == ["a@x.t"]
    # Ingested before the undated record: not known to be newer, so the suspension stays.
    assert trusted(landed((A, 1, "a.json"), (newer, 2, "c.json"), (undated, 3, "b.json"))) == []
    # The same file (no line order known): stays suspended.
    assert trusted(landed((A, 1, "a.json"), (undated, 2, "b.json"), (newer, 2, "b.json"))) == []


def test_a_newer_record_clears_a_quarantine_only_when_strictly_newest_and_later() -> None:
    bad = {**A, "lastUpdateDate": C + 20, "shareWithResearchAsOfDate": 0.5}
    q = quarantine((bad, "wrong_type", "shareWithResearchAsOfDate: expected int64, got float 0.5", 2))
    newer = {**A, "lastUpdateDate": C + 10, "shareWithResearchAsOfDate": C + 10}
    # The quarantined line's own date (C + 20) is newer than the valid record: still suspended.
    assert trusted(landed((A, 1, "a.json"), (newer, 3, "c.json")), q) == []
    newest = {**newer, "lastUpdateDate": C + 30}
    assert trusted(landed((A, 1, "a.json"), (newest, 3, "c.json")), q) == ["a@x.t"]


def test_the_udacity_policy_keeps_the_courses_record_rule() -> None:
    undated = {**A, "lastUpdateDate": None}
    assert customer_trusted(landed((undated, 1, "a.json")), Policy.UDACITY).table.num_rows == 1


def test_without_lineage_columns_nothing_is_known_to_be_later() -> None:
    undated = {**A, "lastUpdateDate": None, "shareWithResearchAsOfDate": None}
    newer = {**A, "lastUpdateDate": C + 10}
    assert customer_trusted(customers(A, undated, newer), Policy.STRICT).table.num_rows == 0
    assert CUSTOMER.schema.names == customer_trusted(customers(A), Policy.STRICT).table.column_names
