"""Run a table's Great Expectations suite on an Arrow table before it is published.

Cost at scale is in converting Arrow to pandas and in GX's per-row metrics, so a suite is split:
- table-level expectations (the column set) run on a zero-row frame with the full schema;
- expectations over whole columns that cannot be split (uniqueness) run on those columns only;
- row-wise expectations (not null, between, in set, regexes, column pairs) run per batch of at most
  `BATCH_ROWS` rows, on the columns they name only, and their counts are added up, so memory stays
  bounded by a batch and batches can run in parallel (`map_parts`, e.g. on Dask workers);
- row-wise expectations with `mostly` below 1 are statistical thresholds (a broken export, not a
  privacy rule): on tables above `SAMPLE_ROWS` rows they run on a seeded random sample of that size.
Privacy rules never carry `mostly`, so every row is checked against them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pyarrow as pa

from expectations import load_suite
from stedi.errors import ValidationFailedError
from stedi.policy import Policy

BATCH_ROWS = 2_000_000
SAMPLE_ROWS = 200_000
# Counts only: GX's BASIC format would also list up to 20 offending values (emails, serials) per check.
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 0}

TABLE_LEVEL = frozenset({"expect_table_columns_to_match_set", "expect_table_columns_to_match_ordered_list"})
ROW_WISE = frozenset(
    {
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_null",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_not_be_in_set",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_not_match_regex",
        "expect_column_pair_values_a_to_be_greater_than_b",
        "expect_column_pair_values_to_be_equal",
    }
)


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
    sampled_rows: int | None = None  # set when the expectation ran on a sample of this many rows

    def describe(self) -> str:
        count = f", {self.unexpected} unexpected rows" if self.unexpected else ""
        if count and self.sampled_rows:
            count += f" in a sample of {self.sampled_rows}"
        target = f" on {self.column}" if self.column else ""
        return f"{self.expectation}{target} failed{count} ({self.why})"


@dataclass(frozen=True)
class ValidationReport:
    table: str
    rows: int
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0  # wall time spent in Great Expectations

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
            raise ValidationFailedError(
                self.table, [o.describe() for o in self.blocking_failures], report=self
            )


@dataclass(frozen=True)
class Part:
    """Some expectations of a suite and the frame they run on; `index` is each one's place in the suite."""

    name: str
    index: tuple[int, ...]
    expectations: tuple[dict[str, Any], ...]
    frame: pa.Table


@dataclass(frozen=True)
class PartResult:
    """GX's counts for one expectation on one part."""

    index: int
    success: bool
    unexpected: int
    element_count: int
    missing_count: int


MapParts = Callable[[Callable[[Part], list[PartResult]], Sequence[Part]], list[list[PartResult]]]


def suite_for(table: str, policy: Policy) -> list[dict[str, Any]]:
    """The expectation configurations of `table` that apply under `policy`."""
    expectations: list[dict[str, Any]] = load_suite(table)["expectations"]
    return [e for e in expectations if policy.value in e.get("meta", {}).get("policies", [policy.value])]


def columns_of(expectation: dict[str, Any]) -> list[str]:
    kwargs = expectation.get("kwargs", {})
    names = [kwargs.get(k) for k in ("column", "column_A", "column_B")]
    return [n for n in names if n] + list(kwargs.get("column_list", []))


def _mostly(expectation: dict[str, Any]) -> float:
    return float(expectation.get("kwargs", {}).get("mostly", 1.0))


def _project(frame: pa.Table, expectations: Sequence[dict[str, Any]]) -> pa.Table:
    """The columns the expectations name that exist (a missing one fails in GX as it should)."""
    wanted = {c for e in expectations for c in columns_of(e)}
    return frame.select([c for c in frame.column_names if c in wanted])


def _sample(frame: pa.Table, rows: int, seed: int = 0) -> pa.Table:
    import numpy as np

    picks = np.sort(np.random.default_rng(seed).choice(frame.num_rows, size=rows, replace=False))
    return frame.take(pa.array(picks))


def plan(table: str, frame: pa.Table, expectations: Sequence[dict[str, Any]]) -> list[Part]:
    """Split a suite into parts: schema checks, whole-column checks, sampled checks and row batches."""
    groups: dict[str, list[int]] = {"schema": [], "whole": [], "sampled": [], "rows": []}
    big = frame.num_rows > SAMPLE_ROWS
    for i, e in enumerate(expectations):
        if e["type"] in TABLE_LEVEL:
            groups["schema"].append(i)
        elif e["type"] not in ROW_WISE:
            groups["whole"].append(i)
        elif big and _mostly(e) < 1.0:
            groups["sampled"].append(i)
        else:
            groups["rows"].append(i)
    parts = []
    for name, index in groups.items():
        if not index:
            continue
        chosen = tuple(expectations[i] for i in index)
        if name == "schema":
            frames = [frame.schema.empty_table()]
        elif name == "sampled":
            frames = [_sample(_project(frame, chosen), SAMPLE_ROWS)]
        elif name == "whole" or frame.num_rows <= BATCH_ROWS:
            frames = [_project(frame, chosen)]
        else:
            projected = _project(frame, chosen)
            frames = [projected.slice(s, BATCH_ROWS) for s in range(0, frame.num_rows, BATCH_ROWS)]
        parts += [Part(f"{table}.{name}.{k}", tuple(index), chosen, f) for k, f in enumerate(frames)]
    return parts


@cache
def _batch_definition() -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints every in-memory frame below 1 GB by hashing all its rows; our batches are
    # validated once and never looked up again, so the fingerprint is pure cost.
    pandas_execution_engine.HASH_THRESHOLD = 0
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("stedi").add_dataframe_asset("frames")
    return asset.add_batch_definition_whole_dataframe("whole")


# GX is not safe from two threads at once: building contexts, and validating in two contexts at the
# same time (a thread pool of units gave one unit's frame another's results). Validation holds the
# GIL anyway, so threads validate one after the other; processes and Dask workers run in parallel.
_context_lock = threading.Lock()


def run_part(part: Part) -> list[PartResult]:
    """Run one part's expectations with GX; pure of Prefect, so it runs on any worker."""
    from great_expectations.core import ExpectationSuite

    # Each expectation carries its place in the suite, so results map back whatever order GX uses.
    tagged = [
        {**e, "meta": {**e.get("meta", {}), "stedi_index": i}}
        for i, e in zip(part.index, part.expectations, strict=True)
    ]
    frame = part.frame.to_pandas()
    with _context_lock:
        definition = _batch_definition()
        suite = ExpectationSuite(name=part.name, expectations=tagged)
        batch = definition.get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(suite, result_format=RESULT_FORMAT)
    out = []
    for r in result.results:
        res = r.result or {}
        out.append(
            PartResult(
                index=int(r.expectation_config.meta["stedi_index"]),
                success=bool(r.success),
                unexpected=int(res.get("unexpected_count") or 0),
                element_count=int(res.get("element_count") or part.frame.num_rows),
                missing_count=int(res.get("missing_count") or 0),
            )
        )
    return out


def _serial(fn: Callable[[Part], list[PartResult]], parts: Sequence[Part]) -> list[list[PartResult]]:
    return [fn(p) for p in parts]


def _combine(expectation: dict[str, Any], results: list[PartResult]) -> tuple[bool, int]:
    """Add up one expectation's counts over its parts; `mostly` is decided on the totals."""
    unexpected = sum(r.unexpected for r in results)
    if len(results) == 1 or _mostly(expectation) >= 1.0:
        return all(r.success for r in results), unexpected
    considered = sum(r.element_count - r.missing_count for r in results)
    return (considered == 0 or unexpected / considered <= 1.0 - _mostly(expectation)), unexpected


def validate(
    table: str, frame: pa.Table, policy: Policy, map_parts: MapParts | None = None
) -> ValidationReport:
    """Validate `frame` (the table plus its audit columns) with the table's suite."""
    started = time.perf_counter()
    expectations = suite_for(table, policy)
    parts = plan(table, frame, expectations)
    by_index: dict[int, list[PartResult]] = {}
    sampled: dict[int, int] = {}
    for part, results in zip(parts, (map_parts or _serial)(run_part, parts), strict=True):
        for r in results:
            by_index.setdefault(r.index, []).append(r)
            if ".sampled." in part.name:
                sampled[r.index] = part.frame.num_rows
    return _report(table, frame.num_rows, expectations, by_index, sampled, time.perf_counter() - started)


def _report(
    table: str,
    rows: int,
    expectations: Sequence[dict[str, Any]],
    by_index: dict[int, list[PartResult]],
    sampled: dict[int, int],
    seconds: float = 0.0,
) -> ValidationReport:
    outcomes = []
    for i, e in enumerate(expectations):
        kwargs = e.get("kwargs", {})
        success, unexpected = _combine(e, by_index[i])
        outcomes.append(
            Outcome(
                table=table,
                expectation=e["type"],
                column=str(kwargs.get("column") or kwargs.get("column_A") or ""),
                severity=str(e.get("severity") or "critical"),
                success=success,
                unexpected=unexpected,
                why=e.get("meta", {}).get("why", ""),
                sampled_rows=sampled.get(i),
            )
        )
    return ValidationReport(table, rows, outcomes, seconds)
