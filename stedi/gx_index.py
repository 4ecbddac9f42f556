"""The Data Docs index without reading every stored result on every run.

GX's index builder loads each stored validation result to learn whether it passed, so a run's
render cost grows with the history (one read per table and run, a request each on S3). Here the
index builder asks a stand-in for the data context that answers from `stedi-runs.json`, a small
summary next to the index (suite, run, table -> passed, asset, and a stopped run's batch spec), and
reads, then remembers, only results it has not seen. GX loads this module by name from the site configuration.
"""

from __future__ import annotations

import json
from typing import Any

from great_expectations.core import ExpectationSuiteValidationResult
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)
from great_expectations.render.renderer.site_builder import DefaultSiteIndexBuilder

SUMMARY_KEY = ("stedi-runs.json",)


class _KnownResults:
    """The data context as the index builder sees it: results it has summaries of are not read."""

    def __init__(self, context: Any, known: dict[str, dict[str, Any]]) -> None:
        self._context = context
        self.known = known
        self.learned = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def get_validation_result(
        self,
        batch_identifier: str,
        expectation_suite_name: str,
        run_id: Any,
        validation_results_store_name: str | None = None,
        **kwargs: Any,
    ) -> Any:
        suite = ExpectationSuiteIdentifier(expectation_suite_name)
        name = "/".join(ValidationResultIdentifier(suite, run_id, batch_identifier).to_tuple())  # type: ignore[no-untyped-call]
        entry = self.known.get(name)
        if entry is None:
            result = self._context.get_validation_result(
                batch_identifier=batch_identifier,
                expectation_suite_name=expectation_suite_name,
                run_id=run_id,
                validation_results_store_name=validation_results_store_name,
                **kwargs,
            )
            if not isinstance(result, ExpectationSuiteValidationResult):
                return result
            entry = {"success": bool(result.success), "asset": result.asset_name or batch_identifier}
            spec = dict(result.meta.get("batch_spec") or {})
            if set(spec) - {"data_asset_name"}:  # a stopped run's note: kept for the index's tooltip
                entry["batch_spec"] = spec
            self.known[name] = entry
            self.learned = True
        asset = entry["asset"]
        return ExpectationSuiteValidationResult(
            success=entry["success"],
            results=[],
            suite_name=expectation_suite_name,
            meta={
                "active_batch_definition": {"data_asset_name": asset},
                "batch_spec": entry.get("batch_spec") or {"data_asset_name": asset},
            },
        )


class SummarizedIndexBuilder(DefaultSiteIndexBuilder):
    def build(self, skip_and_clean_missing: bool = True, build_index: bool = True) -> tuple[Any, Any]:
        backend = self.target_store.store_backends["static_assets"]
        known = json.loads(backend.get(SUMMARY_KEY)) if backend.has_key(SUMMARY_KEY) else {}
        context = self.data_context
        proxy = _KnownResults(context, known)
        self.data_context = proxy  # type: ignore[assignment]
        try:
            built: tuple[Any, Any] = super().build(skip_and_clean_missing, build_index)
        finally:
            self.data_context = context
        if proxy.learned:
            backend.set(SUMMARY_KEY, json.dumps(known, sort_keys=True), content_type="application/json")
        return built
