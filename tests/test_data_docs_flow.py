"""The lakehouse flow records every run in Data Docs and links the run's page."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import unquote

import pytest

from stedi.generate import GeneratorSpec, generate

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
