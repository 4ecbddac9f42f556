"""Helpers for the Data Docs tests: a run's results with a broken expectation, and a page walker."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pyarrow as pa

from stedi.data_docs import table_result
from stedi.policy import Policy
from stedi.validation import suite_for, validate

# Personal values that break customer_landing's email expectation in the runs below.
BAD_EMAILS = ["ada.lovelace at example.org", "grace hopper@navy", "alan.turing(at)bletchley.uk"]
GOOD_EMAILS = [f"person{i}@example.com" for i in range(3)]


def customer_landing(emails: list[str]) -> pa.Table:
    """A customer_landing table (with its audit columns) holding `emails`."""
    columns = next(
        e["kwargs"]["column_set"]
        for e in suite_for("customer_landing", Policy.STRICT)
        if e["type"] == "expect_table_columns_to_match_set"
    )
    n = len(emails)
    data: dict[str, list[Any]] = {c: [None] * n for c in columns}
    data |= {
        "email": emails,
        "customerName": [f"Name {i}" for i in range(n)],
        "_source_file": ["customer-1.json"] * n,
        "shareWithResearchAsOfDate": [1_600_000_000_000] * n,
        "registrationDate": [1_600_000_000_000] * n,
        "lastUpdateDate": [1_600_000_000_000] * n,
    }
    return pa.table(data)


def broken_run_results() -> list[dict[str, Any]]:
    """The results of a run whose customer_landing emails break the email rule, as the flow passes them."""
    report = validate("customer_landing", customer_landing(BAD_EMAILS + GOOD_EMAILS), Policy.STRICT)
    assert not report.success  # the data really broke an expectation
    outcomes = [asdict(o) for o in report.outcomes]
    return [table_result("customer_landing", "strict", report.rows, outcomes)]


def raw_gx_result(emails: list[str], result_format: str | dict[str, Any] = "COMPLETE") -> dict[str, Any]:
    """GX's own result of the email rules, by default with every unexpected value listed."""
    import great_expectations as gx
    from great_expectations.core import ExpectationSuite
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas("raw")
        .add_dataframe_asset("customer_landing")
        .add_batch_definition_whole_dataframe("whole")
        .get_batch(batch_parameters={"dataframe": customer_landing(emails).to_pandas()})
    )
    suite = ExpectationSuite(
        name="customer_landing.strict",
        expectations=[e for e in suite_for("customer_landing", Policy.STRICT) if "email" in str(e["kwargs"])],
    )
    result = batch.validate(suite, result_format=result_format).to_json_dict()
    if result_format == "COMPLETE":
        assert any(e in str(result) for e in emails)  # GX's raw result does carry the values
    result["meta"] = {**result.get("meta", {}), "table": "customer_landing", "rows": len(emails)}
    return dict(result)


class Links(HTMLParser):
    """Every URL a page makes the browser load or offers as a link: src/href of any element."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in {"src", "href", "data-src", "srcset", "action"} and v]


CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)""")


def index_rows(index: str) -> list[dict[str, Any]]:
    """The rows of the index's validation results table (GX writes them as a Python literal)."""
    import ast

    tables = [ast.literal_eval(t) for t in re.findall(r"^\s*data: (\[.*\]),\s*$", index, re.M)]
    return [row for rows in tables for row in rows if "run_name" in row]


def pages(site: Path) -> Iterator[Path]:
    return (p for p in sorted(site.rglob("*.html")) if p.is_file())


def references(page: Path) -> list[str]:
    """src/href values and CSS url(...) of inline styles in `page`."""
    text = page.read_text(encoding="utf-8")
    parser = Links()
    parser.feed(text)
    styles = re.findall(r"<style[^>]*>(.*?)</style>", text, re.S)
    return parser.urls + [u for s in styles for u in CSS_URL.findall(s)]


def is_external(url: str) -> bool:
    return bool(re.match(r"^\s*(https?:)?//", url, re.I))


def local_target(page: Path, url: str) -> Path | None:
    """The file a relative reference points at; None for anchors and data: URLs."""
    plain = url.split("#", 1)[0].split("?", 1)[0]
    if not plain or url.startswith(("data:", "javascript:", "mailto:")):
        return None
    from urllib.parse import unquote

    return (page.parent / unquote(plain)).resolve()
