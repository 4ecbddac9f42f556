"""The suites hold the privacy rules: forcing a wrong row in makes the right expectation fail."""

from __future__ import annotations

import pyarrow as pa
import pytest

from expectations import load_suite, suite_names
from stedi.audit import (
    audit_accelerometer_trusted,
    audit_customer_curated,
    audit_machine_learning_curated,
    audit_step_trainer_trusted,
    customer_facts,
)
from stedi.errors import ValidationFailedError
from stedi.policy import Policy
from stedi.registry import REGISTRY
from stedi.rules.curated import machine_learning_curated
from stedi.validation import validate
from tests.tables import customers, readings, steps

C = 1_660_000_000_000
TRUSTED = customers(
    {"email": "a@x.t", "serialNumber": "s1", "lastUpdateDate": C, "shareWithResearchAsOfDate": C}
)
FACTS = customer_facts(TRUSTED, None, Policy.STRICT, b"k")


def failed(report_outcomes: list, kind: str) -> list[str]:  # type: ignore[type-arg]
    return [o.column for o in report_outcomes if not o.success and o.expectation == kind]


def test_every_table_has_a_suite() -> None:
    assert set(suite_names()) == set(REGISTRY.data_tables) - {"ingest_log"}
    assert all(load_suite(name)["expectations"] for name in suite_names())


def test_non_consenting_reading_forced_into_trusted_fails() -> None:
    forged = readings(("a@x.t", C), ("stranger@x.t", C))
    report = validate("accelerometer_trusted", audit_accelerometer_trusted(forged, FACTS), Policy.STRICT)
    assert failed(report.outcomes, "expect_column_values_to_not_be_null") == ["_consent_at"]
    with pytest.raises(
        ValidationFailedError, match="accelerometer_trusted: expect_column_values_to_not_be_null"
    ):
        report.raise_if_blocking()


def test_reading_before_consent_forced_into_trusted_fails_under_strict_only() -> None:
    forged = readings(("a@x.t", C - 1))
    frame = audit_accelerometer_trusted(forged, FACTS)
    strict = validate("accelerometer_trusted", frame, Policy.STRICT)
    assert failed(strict.outcomes, "expect_column_pair_values_a_to_be_greater_than_b") == ["timestamp"]
    assert validate("accelerometer_trusted", frame, Policy.UDACITY).success


def test_customer_columns_joined_into_trusted_readings_fail() -> None:
    forged = readings(("a@x.t", C)).append_column("phone", pa.array(["8015551212"]))
    report = validate("accelerometer_trusted", audit_accelerometer_trusted(forged, FACTS), Policy.STRICT)
    assert not report.success
    assert report.blocking_failures[0].expectation == "expect_table_columns_to_match_set"


def test_step_reading_of_a_device_without_curated_owner_fails() -> None:
    forged = steps(("s1", C), ("s2", C))
    report = validate(
        "step_trainer_trusted", audit_step_trainer_trusted(forged, FACTS, TRUSTED), Policy.STRICT
    )
    assert failed(report.outcomes, "expect_column_values_to_not_be_null") == ["_consent_at"]


def test_curated_customer_without_readings_or_twice_fails() -> None:
    twice = customers(
        {"email": "a@x.t", "lastUpdateDate": C, "shareWithResearchAsOfDate": C},
        {"email": "A@x.t", "lastUpdateDate": C, "shareWithResearchAsOfDate": C},
        {"email": "b@x.t", "lastUpdateDate": C, "shareWithResearchAsOfDate": C},
    )
    facts = customer_facts(twice.take([0, 2]), None, Policy.STRICT)
    report = validate(
        "customer_curated",
        audit_customer_curated(twice, facts, readings(("a@x.t", C))),
        Policy.STRICT,
    )
    assert failed(report.outcomes, "expect_column_values_to_be_unique") == ["_key"]
    assert failed(report.outcomes, "expect_column_values_to_be_in_set") == ["_has_readings"]


def test_ml_table_with_an_email_or_extra_column_fails() -> None:
    step, reading = steps(("s1", C)), readings(("a@x.t", C))
    good = machine_learning_curated(step, reading, TRUSTED, Policy.STRICT, b"k").table

    def audited(table: pa.Table) -> pa.Table:
        return audit_machine_learning_curated(table, FACTS, step, reading)

    assert validate("machine_learning_curated", audited(good), Policy.STRICT).success
    leaked = good.set_column(0, "subject_id", pa.array(["a@x.t"]))
    report = validate("machine_learning_curated", audited(leaked), Policy.STRICT)
    assert {o.expectation for o in report.blocking_failures} >= {
        "expect_column_values_to_match_regex",
        "expect_column_values_to_not_match_regex",
    }
    extra = audited(good).append_column("serialNumber", pa.array(["s1"]))
    assert not validate("machine_learning_curated", extra, Policy.STRICT).success


def test_outcomes_hold_counts_not_values() -> None:
    forged = readings(("stranger@x.t", C))
    report = validate("accelerometer_trusted", audit_accelerometer_trusted(forged, FACTS), Policy.STRICT)
    assert "stranger" not in repr(report)


def test_units_validated_in_threads_at_once_keep_their_own_results() -> None:
    """A thread pool of units validates at the same time: each frame gets its own counts."""
    from concurrent.futures import ThreadPoolExecutor

    def frame(bad: int) -> pa.Table:
        rows = 2_000
        timestamps = list(range(1_655_000_000_000, 1_655_000_000_000 + rows))
        consent = [t + 1 if i < bad else t for i, t in enumerate(timestamps)]  # `bad` readings before consent
        return pa.table(
            {
                "user": ["a@example.test"] * rows,
                "timestamp": timestamps,
                "x": [0.0] * rows,
                "y": [0.0] * rows,
                "z": [0.0] * rows,
                "_consent_at": consent,
            }
        )

    frames = [frame(bad) for bad in (0, 7, 0, 11, 0, 3)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        reports = list(pool.map(lambda f: validate("accelerometer_trusted", f, Policy.STRICT), frames))
    pairs = [
        next(
            o.unexpected
            for o in r.outcomes
            if o.expectation == "expect_column_pair_values_a_to_be_greater_than_b"
        )
        for r in reports
    ]
    assert pairs == [0, 7, 0, 11, 0, 3]
