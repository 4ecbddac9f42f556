"""The run report counts suspended customers in its privacy funnel."""

from __future__ import annotations

from stedi.report import RunSummary, StepReport


def test_the_run_report_counts_suspended_customers() -> None:
    counts = {"customer_records": 5, "customers": 4, "suspended_customers": 1}
    summary = RunSummary.of("strict", [StepReport("customer_trusted", 1, 2, counts)])
    assert summary.funnel()["customers"] == {
        "records": 5,
        "customers": 4,
        "suspended": 1,
        "consenting": 2,
        "with_readings": 0,
    }
    assert "suspended 1" in summary.to_markdown()
    assert "suspended 1" in summary.to_text()
