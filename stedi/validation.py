"""Run a table's Great Expectations suite on an Arrow table before it is published."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pyarrow as pa

from expectations import load_suite
from stedi.errors import ValidationFailedError
from stedi.policy import Policy


@dataclass(frozen=True)
class Outcome:
    """One expectation's result: no values from the data, only counts (they may be personal)."""

    table: str
    expectation: str
    column: str
    severity: str
    success: bool
    unexpected: int | None
    why: str

    def describe(self) -> str:
        count = f", {self.unexpected} unexpected rows" if self.unexpected else ""
        target = f" on {self.column}" if self.column else ""
        return f"{self.expectation}{target} failed{count} ({self.why})"


@dataclass(frozen=True)
class ValidationReport:
    table: str
    rows: int
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def blocking_failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success and o.severity == "critical"]

    @property
    def warnings(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success and o.severity != "critical"]

    @property
    def success(self) -> bool:
        return not self.blocking_failures

    def raise_if_blocking(self) -> None:
        if self.blocking_failures:
            raise ValidationFailedError(self.table, [o.describe() for o in self.blocking_failures])


def suite_for(table: str, policy: Policy) -> list[dict[str, Any]]:
    """The expectation configurations of `table` that apply under `policy`."""
    expectations: list[dict[str, Any]] = load_suite(table)["expectations"]
    return [e for e in expectations if policy.value in e.get("meta", {}).get("policies", [policy.value])]


@cache
def _batch_definition() -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("stedi").add_dataframe_asset("frames")
    return asset.add_batch_definition_whole_dataframe("whole")


def validate(table: str, frame: pa.Table, policy: Policy) -> ValidationReport:
    """Validate `frame` (the table plus its audit columns) with the table's suite."""
    from great_expectations.core import ExpectationSuite

    expectations = suite_for(table, policy)
    suite = ExpectationSuite(name=f"{table}.{policy.value}", expectations=expectations)
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame.to_pandas()})
    result = batch.validate(suite, result_format="BASIC")
    whys = {
        (e["type"], e["kwargs"].get("column", "")): e.get("meta", {}).get("why", "") for e in expectations
    }
    outcomes = []
    for r in result.results:
        config = r.expectation_config
        column = str(config.kwargs.get("column") or config.kwargs.get("column_A") or "")
        outcomes.append(
            Outcome(
                table=table,
                expectation=config.type,
                column=column,
                severity=str(getattr(config.severity, "value", config.severity) or "critical"),
                success=bool(r.success),
                unexpected=r.result.get("unexpected_count"),
                why=whys.get((config.type, str(config.kwargs.get("column", ""))), ""),
            )
        )
    return ValidationReport(table, frame.num_rows, outcomes)
