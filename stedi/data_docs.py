"""Great Expectations Data Docs rebuilt from a run's counts (never from GX's raw results, which list
unexpected values). Free of Prefect, so it runs in the validation process, where GX is imported.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stedi.report import RunSummary, StepReport
from stedi.validation import suite_for

SITE_NAME = "stedi"


def render_site(summary: RunSummary, run_name: str, site: Path) -> str:
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    context = gx.get_context(mode="ephemeral")
    context.add_data_docs_site(
        site_name=SITE_NAME,
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    run_id = RunIdentifier(run_name=run_name, run_time=datetime.now(UTC))
    for step in summary.steps:
        if not step.validation:
            continue
        result = validation_result(step, summary.policy, run_id)
        key = ValidationResultIdentifier(ExpectationSuiteIdentifier(result.suite_name), run_id, step.table)
        context.validation_results_store.set(key, result)
    urls = context.build_data_docs(site_names=[SITE_NAME])
    return str(urls[SITE_NAME]).rsplit("/", 1)[-1]


def validation_result(step: StepReport, policy: str, run_id: Any) -> Any:
    """A GX validation result made of the step's counts and its suite's configurations."""
    from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    from stedi.policy import Policy

    configs = {
        (e["type"], str(e["kwargs"].get("column") or e["kwargs"].get("column_A") or "")): e
        for e in suite_for(step.table, Policy.parse(policy))
    }
    results = []
    for o in step.validation:
        spec = configs.get((o.expectation, o.column), {"kwargs": {}, "meta": {}})
        config = ExpectationConfiguration(type=o.expectation, kwargs=spec["kwargs"], meta=spec.get("meta"))
        unexpected = o.unexpected or 0
        results.append(
            ExpectationValidationResult(
                success=o.success,
                expectation_config=config,
                result={
                    "element_count": step.rows,
                    "unexpected_count": unexpected,
                    "unexpected_percent": 100.0 * unexpected / step.rows if step.rows else 0.0,
                },
            )
        )
    passed = sum(bool(r.success) for r in results)
    return ExpectationSuiteValidationResult(
        success=passed == len(results),
        results=results,
        suite_name=f"{step.table}.{policy}",
        statistics={
            "evaluated_expectations": len(results),
            "successful_expectations": passed,
            "unsuccessful_expectations": len(results) - passed,
            "success_percent": 100.0 * passed / len(results) if results else 100.0,
        },
        meta={"run_id": run_id, "active_batch_definition": {}, "batch_spec": {"table": step.table}},
    )
