"""The privacy report: funnels computed with the table rules, erasures counted from the log."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from stedi.policy import Policy
from stedi.privacy.report import PrivacyReport, erasure_stages, funnels
from stedi.privacy.tables import ERASURE_LOG_SCHEMA
from tests.tables import customers, readings, steps

CONSENT = 1_700_000_000_000


def test_funnels_follow_customers_and_readings_to_the_trusted_tables() -> None:
    people = customers(
        {
            "email": "ann@x.test",
            "serialNumber": "a",
            "lastUpdateDate": 1,
            "shareWithResearchAsOfDate": CONSENT,
        },
        {
            "email": "bob@x.test",
            "serialNumber": "b",
            "lastUpdateDate": 1,
            "shareWithResearchAsOfDate": CONSENT,
        },
        {"email": "BOB@x.test", "serialNumber": "b", "lastUpdateDate": 2},  # revoked later
        {"email": "cy@x.test", "serialNumber": "c", "lastUpdateDate": 1},
        # Two newest records on the same date: which one is in force is unclear, so dee is suspended.
        {
            "email": "dee@x.test",
            "serialNumber": "d",
            "lastUpdateDate": 1,
            "shareWithResearchAsOfDate": CONSENT,
        },
        {"email": "dee@x.test", "serialNumber": "d", "lastUpdateDate": 1, "shareWithResearchAsOfDate": 7},
    )
    accel = readings(
        ("ann@x.test", CONSENT - 1),
        ("ann@x.test", CONSENT),
        ("bob@x.test", CONSENT),
        ("zed", CONSENT),
        ("dee@x.test", CONSENT),
    )
    step = steps(("a", CONSENT - 1), ("a", CONSENT), ("b", CONSENT))
    customer, accelerometer, step_trainer = funnels(people, accel, step, Policy.STRICT)
    assert customer == [
        ("records", 6),
        ("customers", 4),
        ("ever consented", 3),
        ("latest record consents", 2),
        ("suspended (newest record unclear)", 1),
        ("with readings (customer_curated)", 1),
    ]
    assert accelerometer == [
        ("total", 5),
        ("of non-consenting owners", 3),
        ("before consent", 1),
        ("trusted", 1),
    ]
    assert step_trainer == [
        ("total", 3),
        ("of unattributable devices", 0),
        ("not of curated devices", 1),
        ("before consent", 1),
        ("trusted", 1),
    ]


def test_erasures_since_the_last_run_are_counted_without_identifiers() -> None:
    def entry(erasure: str, subject: str, day: int) -> dict[str, object]:
        return {
            "erasure_id": erasure,
            "subject": subject,
            "erased_at": datetime(2026, 1, day, tzinfo=UTC),
            "rows_removed": [("customer_landing", 1)],
            "rows_removed_total": 1,
            "files_vacuumed": 2,
            "raw_lines_removed": 0,
            "salt_fingerprint": "f",
        }

    log = pa.Table.from_pylist(
        [entry("e1", "s1", 1), entry("e2", "s2", 5), entry("e2", "s3", 5)], schema=ERASURE_LOG_SCHEMA
    )
    stages = erasure_stages(log, tombstones=5, stale=0, since=datetime(2026, 1, 3, tzinfo=UTC))
    assert stages == [
        ("subjects erased, all time", 3),
        ("subjects erased since last run", 2),
        ("tombstones", 5),
        ("tombstones under a retired salt", 0),
    ]
    report = PrivacyReport("strict", [("records", 1)], [], [], stages, datetime(2026, 1, 3, tzinfo=UTC))
    assert "| subjects erased since last run | 2 |" in report.to_markdown()
    assert "erasures since 2026-01-03 00:00:00 UTC" in report.to_text()
