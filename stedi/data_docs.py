"""Great Expectations Data Docs with history: each run's results go into persistent GX stores next to
the lakehouse, and the site (`<lakehouse>/data_docs`) gains that run's pages.

`record_run` is the one place that writes the stores and renders, called once per run at the end of
the flow with the run's results as plain dicts, so validation workers never write them at once.
Results hold counts and rule descriptions only: GX's raw results list offending values
(`partial_unexpected_list`, `unexpected_list`, ...), which are personal here, so every result is
reduced to `counts_only` before it is stored, whatever shape the caller passed.
Free of Prefect, so it runs in the validation process, where GX is already imported.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from expectations import suite_names
from stedi.policy import Policy
from stedi.report import RunSummary
from stedi.validation import suite_for

# The only entries of an expectation's `result` that are kept: counts and percentages.
COUNT_KEYS = frozenset(
    {
        "element_count",
        "missing_count",
        "missing_percent",
        "unexpected_count",
        "unexpected_percent",
        "unexpected_percent_total",
        "unexpected_percent_nonmissing",
    }
)


@dataclass(frozen=True)
class DocsRun:
    """Site-relative paths of the index and of the run's validation page per table."""

    index: str
    pages: dict[str, str]
    seconds: float


def suite_name(table: str, policy: str) -> str:
    return f"{table}.{policy}"


def _config(expectation: Mapping[str, Any]) -> dict[str, Any]:
    """An expectation's type, kwargs and rule; its `why` shown as GX notes on the pages."""
    meta = dict(expectation.get("meta") or {})
    config: dict[str, Any] = {"type": expectation["type"], "kwargs": dict(expectation.get("kwargs") or {})}
    if meta:
        config["meta"] = meta
    if meta.get("why"):
        config["notes"] = str(meta["why"])
    if expectation.get("severity"):
        config["severity"] = expectation["severity"]
    return config


def suite_dict(table: str, policy: Policy) -> dict[str, Any]:
    """The suite of `table` under `policy`, as GX stores it (name and expectation configurations)."""
    return {
        "name": suite_name(table, policy.value),
        "expectations": [_config(e) for e in suite_for(table, policy)],
    }


def table_result(table: str, policy: str, rows: int, outcomes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A GX-shaped validation result of one table, from its outcomes (stedi.validation.Outcome as dicts)."""
    configs = {
        (e["type"], str(e["kwargs"].get("column") or e["kwargs"].get("column_A") or "")): e
        for e in suite_for(table, Policy.parse(policy))
    }
    results = []
    for o in outcomes:
        spec = configs.get((o["expectation"], o["column"]), {"type": o["expectation"], "kwargs": {}})
        checked = o.get("sampled_rows") or rows
        unexpected = int(o.get("unexpected") or 0)
        results.append(
            {
                "success": bool(o["success"]),
                "expectation_config": _config(spec),
                "result": {
                    "element_count": checked,
                    "unexpected_count": unexpected,
                    "unexpected_percent": 100.0 * unexpected / checked if checked else 0.0,
                },
            }
        )
    return {
        "suite_name": suite_name(table, policy),
        "results": results,
        "meta": {"table": table, "rows": rows},
    }


def run_results(summary: RunSummary) -> list[dict[str, Any]]:
    """The run's validation results as plain dicts, one per validated table."""
    return [
        table_result(s.table, summary.policy, s.rows, [asdict(o) for o in s.validation])
        for s in summary.steps
        if s.validation
    ]


def counts_only(result: Mapping[str, Any]) -> dict[str, Any]:
    """A GX validation result (plain dict) reduced to what may be stored: counts, rules and success.

    Drops every value list GX may add (partial/complete unexpected lists, index lists, observed
    values of column expectations, exception messages and tracebacks, batch markers and specs).
    """
    expectations = []
    for r in result.get("results") or []:
        config = _config(r.get("expectation_config") or {})
        counts = {k: v for k, v in (r.get("result") or {}).items() if k in COUNT_KEYS and _is_number(v)}
        observed = (r.get("result") or {}).get("observed_value")
        if config["type"].startswith("expect_table_") and _is_schema(observed):
            counts["observed_value"] = observed  # a row count or the column names: no data values
        raised = bool((r.get("exception_info") or {}).get("raised_exception"))
        expectations.append(
            {
                "success": bool(r.get("success")),
                "expectation_config": config,
                "result": counts,
                "exception_info": {
                    "raised_exception": raised,
                    "exception_message": None,
                    "exception_traceback": None,
                },
            }
        )
    meta = result.get("meta") or {}
    table = str(meta.get("table") or meta.get("batch_spec", {}).get("data_asset_name") or "")
    passed = sum(bool(e["success"]) for e in expectations)
    return {
        "suite_name": str(result["suite_name"]),
        "success": passed == len(expectations),
        "results": expectations,
        "statistics": {
            "evaluated_expectations": len(expectations),
            "successful_expectations": passed,
            "unsuccessful_expectations": len(expectations) - passed,
            "success_percent": 100.0 * passed / len(expectations) if expectations else 100.0,
        },
        "meta": {"table": table, "rows": int(meta.get("rows") or 0)},
    }


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_schema(value: Any) -> bool:
    return _is_number(value) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def record_run(
    lakehouse: str,
    storage_options: Mapping[str, str],
    run_name: str,
    results: Iterable[Mapping[str, Any]],
    policy: str = Policy.STRICT.value,
    run_time: datetime | None = None,
    stopped_at: str | None = None,
) -> DocsRun:
    """Store the run's results and suites under `lakehouse` and render the run's pages and the index.

    `stopped_at` names the table whose blocking expectation stopped the run: the run is listed as
    `<run name>-failed`, and each of its tables' batch spec (shown on the index and on the pages)
    says where it stopped and which expectations that table did not meet.
    """
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    from stedi.gx_stores import SITE_NAME, open_context

    started = time.perf_counter()
    context = open_context(lakehouse, storage_options)
    changed = _store_suites(context, Policy.parse(policy))
    name = f"{run_name}-failed" if stopped_at else run_name
    run_id = RunIdentifier(run_name=name.replace("/", "-"), run_time=run_time or datetime.now(UTC))
    pages: dict[str, str] = {}
    keys = []
    for raw in results:
        stored = counts_only(raw)
        table = stored["meta"]["table"]
        meta = {
            "run_id": run_id,
            "batch_spec": batch_spec(stored, stopped_at),
            "active_batch_definition": {"data_asset_name": table},
            "rows": stored["meta"]["rows"],
        }
        key = ValidationResultIdentifier(ExpectationSuiteIdentifier(stored["suite_name"]), run_id, table)
        context.validation_results_store.set(key, _gx_result(stored, meta))
        keys.append(key)
        parts = ["validations", *stored["suite_name"].split("."), *run_id.to_tuple(), table]  # type: ignore[no-untyped-call]
        pages[table] = "/".join(parts) + ".html"
    context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=[*changed, *keys])
    return DocsRun("index.html", pages, time.perf_counter() - started)


def batch_spec(stored: Mapping[str, Any], stopped_at: str | None) -> dict[str, Any]:
    """What the pages show of a table's batch: its name and, in a stopped run, where it stopped.

    Built from a `counts_only` result, so it names rules and counts, never a value from the data.
    """
    table = str(stored["meta"]["table"])
    spec: dict[str, Any] = {"data_asset_name": table}
    if stopped_at:
        spec["run"] = f"failed: a blocking expectation on {stopped_at} stopped it"
    if stopped_at == table:
        spec["failed_expectations"] = [
            _failed(r["expectation_config"], r["result"]) for r in stored["results"] if not r["success"]
        ]
    return spec


def _failed(config: Mapping[str, Any], counts: Mapping[str, Any]) -> str:
    kwargs = config.get("kwargs") or {}
    column = kwargs.get("column") or kwargs.get("column_A")
    target = f" on {column}" if column else ""
    severity = config.get("severity") or "critical"
    unexpected, checked = counts.get("unexpected_count"), counts.get("element_count")
    rows = f", {unexpected} of {checked} rows" if unexpected is not None and checked else ""
    return f"{config['type']}{target} ({severity}{rows})"


def _gx_result(stored: Mapping[str, Any], meta: dict[str, Any]) -> Any:
    from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    results = [
        ExpectationValidationResult(
            success=r["success"],
            expectation_config=ExpectationConfiguration(**r["expectation_config"]),
            result=r["result"],
            exception_info=r["exception_info"],
        )
        for r in stored["results"]
    ]
    return ExpectationSuiteValidationResult(
        success=stored["success"],
        results=results,
        suite_name=stored["suite_name"],
        statistics=stored["statistics"],
        meta=meta,
    )


def _store_suites(context: Any, policy: Policy) -> list[Any]:
    """Save every table's suite under `policy`; return the identifiers of those that changed."""
    from great_expectations.core import ExpectationSuite
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier
    from great_expectations.exceptions.exceptions import InvalidKeyError

    store = context.expectations_store
    changed = []
    for table in suite_names():
        wanted = suite_dict(table, policy)
        suite = ExpectationSuite(name=wanted["name"], expectations=wanted["expectations"])
        key = ExpectationSuiteIdentifier(wanted["name"])
        try:
            stored = store.get(key)  # one read; a missing suite raises
        except InvalidKeyError:
            stored = None
        if stored and _essence(stored["expectations"]) == _essence(suite.expectations):
            continue
        context.suites.add_or_update(suite)
        changed.append(key)
    return changed


def _essence(expectations: Iterable[Any]) -> list[dict[str, Any]]:
    """Expectation configurations as GX normalises them (defaults dropped), without their ids."""
    configs = (
        e if isinstance(e, Mapping) else getattr(e, "configuration", e).to_json_dict() for e in expectations
    )
    return [{k: v for k, v in c.items() if k != "id"} for c in configs]
