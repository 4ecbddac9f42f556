"""Data Docs with history: persistent GX stores next to the lakehouse, one page per run and table,
an index of every run, counts only, and pages that render without internet."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from stedi.data_docs import counts_only, record_run
from stedi.gx_site import LOCAL_COPIES, asset_files
from tests.data_docs_helpers import (
    BAD_EMAILS,
    CSS_URL,
    GOOD_EMAILS,
    broken_run_results,
    index_rows,
    is_external,
    local_target,
    pages,
    raw_gx_result,
    references,
)

T0 = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lakehouse with three recorded runs: the email rule broken (flow results), a raw GX result
    listing every unexpected value, and a third run."""
    root = tmp_path_factory.mktemp("lake")
    record_run(str(root), {}, "run-one", broken_run_results(), run_time=T0)
    record_run(
        str(root), {}, "run-two", [raw_gx_result(BAD_EMAILS + GOOD_EMAILS)], run_time=T0 + timedelta(hours=1)
    )
    record_run(str(root), {}, "run-three", broken_run_results(), run_time=T0 + timedelta(hours=2))
    return root


def test_stores_and_pages_hold_counts_but_no_offending_values(lake: Path) -> None:
    stored = sorted((lake / "_validation" / "validations").rglob("*.json"))
    assert len(stored) == 3
    files = [*stored, *(lake / "_validation" / "expectations").rglob("*.json"), *pages(lake / "data_docs")]
    for path in files:
        text = path.read_text(encoding="utf-8")
        leaked = [v for v in BAD_EMAILS + GOOD_EMAILS if v in text or json.dumps(v)[1:-1] in text]
        assert not leaked, f"{path.relative_to(lake)} holds {leaked}"
        assert "partial_unexpected" not in text and "unexpected_list" not in text, path
    for path in stored:  # the counts are kept: 3 of 6 emails break the rule
        result = json.loads(path.read_text(encoding="utf-8"))
        email_rule = next(
            r
            for r in result["results"]
            if r["expectation_config"]["type"] == "expect_column_values_to_match_regex"
        )
        assert (email_rule["success"], email_rule["result"]["unexpected_count"]) == (False, 3)
        assert email_rule["expectation_config"]["notes"]  # the rule in words travels with the count


def test_counts_only_keeps_counts_and_schema_and_drops_every_value() -> None:
    raw = {
        "suite_name": "customer_landing.strict",
        "meta": {"table": "customer_landing", "rows": 2, "batch_markers": {"fingerprint": "x"}},
        "results": [
            {
                "success": False,
                "expectation_config": {
                    "type": "expect_column_values_to_be_in_set",
                    "kwargs": {"column": "email"},
                },
                "result": {
                    "element_count": 2,
                    "unexpected_count": 1,
                    "partial_unexpected_list": ["a@b.c"],
                    "partial_unexpected_counts": [{"value": "a@b.c", "count": 1}],
                    "unexpected_list": ["a@b.c"],
                    "unexpected_index_list": [{"email": "a@b.c"}],
                    "observed_value": "a@b.c",
                },
                "exception_info": {"raised_exception": True, "exception_message": "bad value a@b.c"},
            },
            {
                "success": True,
                "expectation_config": {"type": "expect_table_columns_to_match_set", "kwargs": {}},
                "result": {"observed_value": ["email", "phone"]},
            },
        ],
    }
    kept = counts_only(raw)
    assert "a@b.c" not in json.dumps(kept)
    assert kept["results"][0]["result"] == {"element_count": 2, "unexpected_count": 1}
    assert kept["results"][0]["exception_info"]["raised_exception"] is True
    assert kept["results"][1]["result"] == {"observed_value": ["email", "phone"]}
    assert (kept["success"], kept["statistics"]["unsuccessful_expectations"]) == (False, 1)


def test_index_lists_every_run_newest_first_and_shows_the_suites(lake: Path) -> None:
    index = (lake / "data_docs" / "index.html").read_text(encoding="utf-8")
    positions = [index.find(f"/strict/{name}/") for name in ("run-three", "run-two", "run-one")]
    assert -1 not in positions and positions == sorted(positions), positions
    for suite in ("customer_landing", "machine_learning_curated", "quarantine"):
        assert f"expectations/{suite}/strict.html" in index
        assert (lake / "data_docs" / "expectations" / suite / "strict.html").is_file()
    runs = sorted(p.parent.parent.name for p in (lake / "data_docs" / "validations").rglob("*.html"))
    assert runs == ["run-one", "run-three", "run-two"]


def test_a_new_run_renders_its_own_pages_only(tmp_path: Path) -> None:
    first = record_run(str(tmp_path), {}, "first", broken_run_results(), run_time=T0)
    page = tmp_path / "data_docs" / first.pages["customer_landing"]
    suite_page = tmp_path / "data_docs" / "expectations" / "customer_landing" / "strict.html"
    before = (page.stat().st_mtime_ns, suite_page.stat().st_mtime_ns)
    second = record_run(str(tmp_path), {}, "second", broken_run_results(), run_time=T0 + timedelta(minutes=1))
    assert (page.stat().st_mtime_ns, suite_page.stat().st_mtime_ns) == before  # history is not re-rendered
    assert (tmp_path / "data_docs" / second.pages["customer_landing"]).is_file()
    assert second.pages["customer_landing"] == (
        "validations/customer_landing/strict/second/20260101T080100.000000Z/customer_landing.html"
    )


def test_no_page_loads_anything_from_outside_the_site(lake: Path) -> None:
    site = (lake / "data_docs").resolve()
    checked, stylesheets = 0, set()
    for page in pages(site):
        text = page.read_text(encoding="utf-8")
        assert "vegaEmbed" not in text, f"{page}: a chart needs Vega, which is not served locally"
        for url in references(page):
            assert not is_external(url), f"{page.relative_to(site)} references {url}"
            target = local_target(page, url)
            if target is not None:
                assert target.is_file() and site in target.parents, (
                    f"{page.relative_to(site)}: {url} is missing"
                )
                checked += 1
                stylesheets |= {target} if target.suffix == ".css" else set()
    assert checked > 100 and stylesheets
    for css in stylesheets:  # the stylesheets' fonts and images are served locally too
        for url in CSS_URL.findall(css.read_text(encoding="utf-8")):
            if not url.startswith("data:"):
                assert not is_external(url) and (css.parent / url.split("?")[0]).is_file(), f"{css}: {url}"


def test_every_cdn_copy_is_vendored_and_copied_into_the_site(lake: Path) -> None:
    vendored = {"/".join(key[2:]) for key, _ in asset_files()}
    assert set(LOCAL_COPIES.values()) <= vendored
    for key, path in asset_files():
        assert (lake / "data_docs" / Path(*key)).read_bytes() == path.read_bytes()


def test_gx_templates_name_no_cdn_we_do_not_serve() -> None:
    """After a GX upgrade: a new or changed CDN link in its templates must be vendored (fetch.sh)."""
    from importlib.resources import files

    from stedi.gx_site import offline_source

    templates = files("great_expectations") / "render" / "view" / "templates"
    for template in templates.iterdir():
        if template.name.endswith(".j2"):
            source = offline_source(template.name, template.read_text(encoding="utf-8"))
            urls = re.findall(r'(?:src|href)="(https?://[^"]+)"', source)
            assert not urls, f"{template.name} still loads {urls}: add them to LOCAL_COPIES and fetch.sh"


def test_validation_asks_gx_for_counts_without_offending_values() -> None:
    from stedi.validation import RESULT_FORMAT

    raw = raw_gx_result(BAD_EMAILS + GOOD_EMAILS, result_format=RESULT_FORMAT)
    rule = raw["results"][-1]["result"]
    assert rule["unexpected_count"] == len(BAD_EMAILS) and not rule.get("partial_unexpected_list")
    assert not [v for v in BAD_EMAILS if v in json.dumps(raw)]


def test_the_index_does_not_read_earlier_results_again(tmp_path: Path) -> None:
    """Render cost must not grow with the history: earlier runs' status comes from the summary."""
    record_run(str(tmp_path), {}, "earlier", broken_run_results(), run_time=T0)
    for stored in (tmp_path / "_validation" / "validations").rglob("*.json"):
        stored.write_text("{}", encoding="utf-8")  # unreadable now: a re-read would drop it from the index
    record_run(str(tmp_path), {}, "later", broken_run_results(), run_time=T0 + timedelta(hours=1))
    index = (tmp_path / "data_docs" / "index.html").read_text(encoding="utf-8")
    assert "/strict/later/" in index and "/strict/earlier/" in index


def test_the_link_opens_the_first_table_with_an_unmet_expectation() -> None:
    from stedi.data_docs import DocsRun
    from stedi.report import RunSummary, StepReport
    from stedi.validation import Outcome
    from tasks.artifacts import run_page

    def step(table: str, success: bool) -> StepReport:
        return StepReport(
            table, 1, 10, validation=[Outcome(table, "expect_x", "c", "warning", success, 0, "")]
        )

    docs = DocsRun("index.html", {"customer_landing": "a.html", "customer_trusted": "b.html"}, 0.0)
    failing = RunSummary("strict", [step("customer_landing", True), step("customer_trusted", False)])
    passing = RunSummary("strict", [step("customer_landing", True), step("customer_trusted", True)])
    assert (run_page(docs, failing), run_page(docs, passing)) == ("b.html", "a.html")
    assert run_page(docs, failing, stopped_at="customer_landing") == "a.html"  # the table that stopped it
    assert run_page(DocsRun("index.html", {}, 0.0), passing) == "index.html"


def test_a_run_that_validated_nothing_leaves_the_site_alone(tmp_path: Path) -> None:
    from stedi.config import RunConfig
    from stedi.report import RunSummary, StepReport
    from tasks.artifacts import build_data_docs

    config = RunConfig.build(str(tmp_path / "landing"), str(tmp_path / "lake"))
    docs = build_data_docs(config, RunSummary("strict", [StepReport("customer_trusted", 3, 10)]), "no-op")
    assert docs.pages == {} and not (tmp_path / "lake").exists()


def test_a_stopped_run_is_listed_failed_with_the_rules_it_broke_after_later_runs(tmp_path: Path) -> None:
    record_run(str(tmp_path), {}, "strict-a", broken_run_results(), run_time=T0)
    stopped = record_run(
        str(tmp_path),
        {},
        "strict-a",
        broken_run_results(),
        run_time=T0 + timedelta(hours=1),
        stopped_at="customer_landing",
    )
    assert "/strict-a-failed/" in stopped.pages["customer_landing"]
    record_run(str(tmp_path), {}, "strict-a", broken_run_results(), run_time=T0 + timedelta(hours=2))
    site = tmp_path / "data_docs"
    rows = index_rows((site / "index.html").read_text(encoding="utf-8"))
    assert [r["run_name"] for r in rows] == ["strict-a", "strict-a-failed", "strict-a"]  # newest first
    note = rows[1]["batch_identifier"]  # the index was rendered from its summary, not the stored result
    assert (
        "stopped it" in note
        and "expect_column_values_to_match_regex on email (critical, 3 of 6 rows)" in note
    )
    assert "stopped it" not in rows[0]["batch_identifier"] + rows[2]["batch_identifier"]
    page = (site / stopped.pages["customer_landing"]).read_text(encoding="utf-8")
    assert "expect_column_values_to_match_regex on email (critical, 3 of 6 rows)" in page
    assert not [v for v in BAD_EMAILS + GOOD_EMAILS if any(v in p.read_text("utf-8") for p in pages(site))]


def test_compiled_templates_are_kept_for_the_next_process(tmp_path: Path) -> None:
    """A new process (a new cache) loads what an earlier one compiled; a changed template is compiled anew."""
    from jinja2 import DictLoader, Environment

    from stedi.gx_site import CompiledTemplates

    templates = {"page.j2": "<p>{{ n * 2 }}</p>"}
    compiled: list[str] = []

    class Counting(Environment):
        def _compile(self, source: str, filename: str) -> Any:
            compiled.append(filename)
            return super()._compile(source, filename)

    def render(cache: CompiledTemplates) -> str:
        env = Counting(loader=DictLoader(templates), bytecode_cache=cache)
        return env.get_template("page.j2").render(n=2)

    assert render(CompiledTemplates(str(tmp_path))) == "<p>4</p>"
    assert render(CompiledTemplates(str(tmp_path))) == "<p>4</p>"
    templates["page.j2"] = "<p>{{ n * 3 }}</p>"
    assert render(CompiledTemplates(str(tmp_path))) == "<p>6</p>"
    assert len(compiled) == 2  # the first process, and the changed template
