"""Validation per batch and on samples gives the same verdicts and counts as one whole-table run."""

from __future__ import annotations

import pyarrow as pa
import pytest

from stedi.audit import audit_accelerometer_trusted, customer_facts
from stedi.policy import Policy
from stedi.validation import Outcome, plan, suite_for, validate
from tests.tables import customers

C = 1_660_000_000_000
FACTS = customer_facts(
    customers({"email": "a@x.t", "serialNumber": "s1", "lastUpdateDate": C, "shareWithResearchAsOfDate": C}),
    None,
    Policy.STRICT,
)


def frame(users: list[str], times: list[int]) -> pa.Table:
    n = len(users)
    table = pa.table(
        {
            "user": users,
            "timestamp": pa.array(times, pa.int64()),
            "x": [0.0] * n,
            "y": [0.0] * n,
            "z": [0.0] * n,
        }
    )
    return audit_accelerometer_trusted(table, FACTS)


def landing_frame(users: list[str]) -> pa.Table:
    """accelerometer_landing rows of `users`, all at time C."""
    n = len(users)
    return pa.table(
        {
            "user": users,
            "timestamp": pa.array([C] * n, pa.int64()),
            "x": [0.0] * n,
            "y": [0.0] * n,
            "z": [0.0] * n,
            "_extra": pa.array([None] * n, pa.string()),
            "_source_file": ["f.json"] * n,
            "_ingested_at": pa.array([0] * n, pa.timestamp("us", tz="UTC")),
        }
    )


def verdicts(outcomes: list[Outcome]) -> list[tuple[str, str, bool, int | None]]:
    return [(o.expectation, o.column, o.success, o.unexpected) for o in outcomes]


def test_batches_add_up_to_the_whole_table(monkeypatch: pytest.MonkeyPatch) -> None:
    data = frame(["a@x.t"] * 7 + ["stranger@x.t"] * 2, [C] * 5 + [C - 1] * 4)
    whole = validate("accelerometer_trusted", data, Policy.STRICT)
    monkeypatch.setattr("stedi.validation.BATCH_ROWS", 2)
    batched = validate("accelerometer_trusted", data, Policy.STRICT)
    assert len(plan("t", data, suite_for("accelerometer_trusted", Policy.STRICT))) > 3
    assert verdicts(batched.outcomes) == verdicts(whole.outcomes)
    assert not batched.success


def test_mostly_is_decided_on_the_totals_of_all_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    # 1 malformed user in 30 is within `mostly: 0.95`, though the batch holding it alone is not.
    table = landing_frame(["a@x.t"] * 29 + ["not-an-email"])
    monkeypatch.setattr("stedi.validation.BATCH_ROWS", 4)
    report = validate("accelerometer_landing", table, Policy.STRICT)
    regex = [o for o in report.outcomes if o.expectation == "expect_column_values_to_match_regex"]
    assert [(o.success, o.unexpected, o.sampled_rows) for o in regex] == [(True, 1, None)]


def test_mostly_checks_run_on_a_sample_of_large_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    table = landing_frame(["a@x.t"] * 20 + ["broken"] * 20)
    monkeypatch.setattr("stedi.validation.SAMPLE_ROWS", 10)
    report = validate("accelerometer_landing", table, Policy.STRICT)
    (regex,) = [o for o in report.outcomes if o.expectation == "expect_column_values_to_match_regex"]
    assert not regex.success
    assert regex.sampled_rows == 10
    assert "in a sample of 10" in regex.describe()
