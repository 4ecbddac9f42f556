"""The lakehouse flow records every run in Data Docs and links the run's page."""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path
from urllib.parse import unquote

import pytest

from stedi.errors import ValidationFailedError
from stedi.generate import GeneratorSpec, generate
from tests.data_docs_helpers import BAD_EMAILS, GOOD_EMAILS, customer_landing, index_rows

pytestmark = pytest.mark.slow


def latest_link(key: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    match = re.fullmatch(r"\[Great Expectations Data Docs\]\((.+)\)", str(artifacts[0].data))
    assert match, artifacts[0].data
    return match[1]


def test_each_run_adds_its_pages_and_the_artifact_opens_them(tmp_path: Path, prefect_harness: None) -> None:
    from flows.stedi_lakehouse import stedi_lakehouse

    landing, more, lake = tmp_path / "landing", tmp_path / "more", tmp_path / "lake"
    generate(landing, GeneratorSpec(customers=30, seed=4, files=1))
    stedi_lakehouse(landing=str(landing), lakehouse=str(lake))
    first = latest_link("stedi-data-docs")

    generate(more, GeneratorSpec(customers=10, seed=8, files=1))  # a second delivery
    for path in (p for p in more.rglob("*.json") if p.is_file()):
        target = landing / path.relative_to(more)
        shutil.copy(path, target.with_name(f"second-{target.name}"))
    stedi_lakehouse(landing=str(landing), lakehouse=str(lake))
    second = latest_link("stedi-data-docs")

    site = lake / "data_docs"
    assert first != second
    for link in (first, second):
        assert link.startswith((site / "validations").as_uri() + "/")
        assert Path(unquote(link.removeprefix("file://"))).is_file()
    run_times = {p.parent.name for p in (site / "validations").rglob("*.html")}
    assert len(run_times) == 2  # both runs kept
    index = (site / "index.html").read_text(encoding="utf-8")
    newest, oldest = sorted(run_times, reverse=True)
    assert -1 < index.find(f"/{newest}/") < index.find(f"/{oldest}/")
    assert len(list((lake / "_validation" / "validations").rglob("*.json"))) >= 2 * 5


def deliver(landing: Path, more: Path, prefix: str, feeds: tuple[str, ...]) -> None:
    """Copy the `feeds` files of `more` into `landing` as a new delivery."""
    for feed in feeds:
        for path in (p for p in (more / feed).rglob("*.json") if p.is_file()):
            target = landing / path.relative_to(more)
            shutil.copy(path, target.with_name(f"{prefix}-{target.name}"))


def break_users(landing: Path, prefix: str) -> list[str]:
    """A broken accelerometer export: no user is an email; returns the users as they were written."""
    users = []
    for path in (landing / "accelerometer" / "landing").glob(f"{prefix}-*.json"):
        records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        for record in records:
            record["user"] = record["user"].replace("@", " at ")
            users.append(record["user"])
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return sorted(set(users))


def test_a_run_stopped_by_a_blocking_expectation_is_recorded_and_fails_as_before(
    tmp_path: Path, prefect_harness: None
) -> None:
    from flows.stedi_lakehouse import stedi_lakehouse

    landing, more, lake = tmp_path / "landing", tmp_path / "more", tmp_path / "lake"
    generate(landing, GeneratorSpec(customers=30, seed=4, files=1))
    stedi_lakehouse(landing=str(landing), lakehouse=str(lake))
    completed = latest_link("stedi-data-docs")

    generate(more, GeneratorSpec(customers=10, seed=8, files=1))
    deliver(landing, more, "second", ("customer", "accelerometer"))
    users = break_users(landing, "second")
    state = stedi_lakehouse(landing=str(landing), lakehouse=str(lake), return_state=True)

    assert state.is_failed()
    with pytest.raises(ValidationFailedError) as raised:
        state.result()
    assert raised.value.table == "accelerometer_landing"
    assert "expect_column_values_to_match_regex on user" in str(raised.value)

    site = lake / "data_docs"
    link = latest_link("stedi-data-docs")  # the failed run's page of the table that stopped it
    assert link != completed and "/strict-landing-failed/" in link
    assert link.endswith("/accelerometer_landing.html")
    assert Path(unquote(link.removeprefix("file://"))).is_file()

    index = (site / "index.html").read_text(encoding="utf-8")
    failed_at = index.find("/strict-landing-failed/")
    assert -1 < failed_at < index.find("/strict-landing/")  # newest first
    stopped = [r for r in index_rows(index) if r["run_name"] == "strict-landing-failed"]
    by_table = {r["asset_name"]: r for r in stopped}
    # the steps completed before the stop, then the table that stopped it, marked failed
    assert set(by_table) == {"customer_landing", "quarantine", "accelerometer_landing"}
    assert by_table["customer_landing"]["_validation_success_text"] == "Success"
    assert by_table["quarantine"]["_validation_success_text"] == "Success"
    assert by_table["accelerometer_landing"]["_validation_success_text"] == "Failed"
    assert (
        "expect_column_values_to_match_regex on user (critical, "
        in by_table["accelerometer_landing"]["batch_identifier"]
    )

    leaked = {
        str(p.relative_to(lake)): [u for u in users if u in p.read_text(encoding="utf-8")]
        for p in [*site.rglob("*.html"), *site.rglob("*.json"), *(lake / "_validation").rglob("*.json")]
    }
    assert users and not {p: v for p, v in leaked.items() if v}


def test_a_stop_that_cannot_be_recorded_still_raises_its_own_error(
    tmp_path: Path, prefect_harness: None, caplog: pytest.LogCaptureFixture
) -> None:
    from prefect import flow

    from stedi.config import RunConfig
    from stedi.policy import Policy
    from stedi.validation import validate
    from tasks.artifacts import recorded_when_stopped

    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "data_docs").write_text("a file where the site's folder should be", encoding="utf-8")
    report = validate("customer_landing", customer_landing(BAD_EMAILS + GOOD_EMAILS), Policy.STRICT)

    @flow
    def stopped() -> None:
        with recorded_when_stopped(RunConfig.build(str(tmp_path / "landing"), str(lake)), []):
            report.raise_if_blocking()

    caplog.set_level(logging.WARNING)
    runs = logging.getLogger("prefect.task_runs")  # Prefect's loggers do not propagate to the root
    runs.addHandler(caplog.handler)
    try:
        with pytest.raises(ValidationFailedError) as raised:
            stopped()
    finally:
        runs.removeHandler(caplog.handler)
    assert raised.value.table == "customer_landing" and raised.value.report == report
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("Data Docs not built" in w for w in warnings), warnings
    assert not [e for e in BAD_EMAILS + GOOD_EMAILS if e in caplog.text]
