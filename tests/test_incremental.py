"""Incremental runs always equal a one-shot build; a rerun with nothing new commits nothing."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from stedi.generate import GeneratorSpec, generate
from tests.lakes import content, copy_files, empty_landing, versions

pytestmark = pytest.mark.slow


def run(landing: Path, lakehouse: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    from flows.stedi_lakehouse import stedi_lakehouse

    return stedi_lakehouse(landing=str(landing), lakehouse=str(lakehouse), **kwargs)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated files plus the awkward ones: re-delivered duplicates, a consent change, bad lines."""
    root = tmp_path_factory.mktemp("source")
    generate(root, GeneratorSpec(customers=60, seed=21, files=3))
    accel = sorted((root / "accelerometer" / "landing").glob("*.json"))
    lines = accel[0].read_text().splitlines()
    (root / "accelerometer" / "landing" / "redelivered.json").write_text("\n".join(lines[:40]) + "\n")
    customers = [
        json.loads(x) for x in next((root / "customer" / "landing").glob("*.json")).read_text().splitlines()
    ]
    changes = []
    for c in customers[:12]:
        late = dict(c, lastUpdateDate=c["lastUpdateDate"] + 10**9)
        late["shareWithResearchAsOfDate"] = (
            None if c.get("shareWithResearchAsOfDate") else c["registrationDate"]
        )
        changes.append(json.dumps(late))
    (root / "customer" / "landing" / "consent-changes.json").write_text("\n".join(changes) + "\n")
    (root / "step_trainer" / "landing" / "dirty.json").write_text(
        '{"sensorReadingTime": 1655564444103, "serialNumber": "x", "distanceFromObject": 1}\n'
        'not json\n{"a": 1}\n'
    )
    return root


def files_of(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.json"))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_splits_across_runs_equal_a_one_shot_build(
    seed: int, source: Path, tmp_path: Path, prefect_harness: None
) -> None:
    rng = random.Random(seed)
    files = files_of(source)
    rng.shuffle(files)
    cuts = sorted(rng.sample(range(1, len(files)), 2))
    batches = [files[: cuts[0]], files[cuts[0] : cuts[1]], files[cuts[1] :]]
    landing = empty_landing(tmp_path / "landing")
    for batch in batches:
        copy_files(batch, source, landing)
        run(landing, tmp_path / "incremental")
    one_shot = empty_landing(tmp_path / "one-shot-landing")
    copy_files(files, source, one_shot)
    run(one_shot, tmp_path / "one-shot")
    assert content(tmp_path / "incremental") == content(tmp_path / "one-shot")


def test_rerun_with_nothing_new_commits_nothing(source: Path, tmp_path: Path, prefect_harness: None) -> None:
    landing = empty_landing(tmp_path / "landing")
    copy_files(files_of(source), source, landing)
    run(landing, tmp_path / "lake")
    before = versions(tmp_path / "lake")
    summary = run(landing, tmp_path / "lake")
    assert versions(tmp_path / "lake") == before
    assert not summary.rebuilt
    assert summary.rows("machine_learning_curated") > 0
    assert all(c["files_new"] == 0 and c["files_changed"] == 0 for c in summary.ingest().values())


def test_changed_file_replaces_its_rows(source: Path, tmp_path: Path, prefect_harness: None) -> None:
    landing = empty_landing(tmp_path / "landing")
    copy_files(files_of(source), source, landing)
    run(landing, tmp_path / "lake")
    target = sorted((landing / "accelerometer" / "landing").glob("accelerometer-*.json"))[1]
    lines = target.read_text().splitlines()
    target.write_text("\n".join(lines[: len(lines) // 2]) + "\n")
    summary = run(landing, tmp_path / "lake")
    assert summary.ingest()["accelerometer"]["files_changed"] == 1
    run(landing, tmp_path / "one-shot")
    assert content(tmp_path / "lake") == content(tmp_path / "one-shot")


def test_vanished_file_keeps_its_rows_and_is_reported(
    source: Path, tmp_path: Path, prefect_harness: None
) -> None:
    landing = empty_landing(tmp_path / "landing")
    copy_files(files_of(source), source, landing)
    run(landing, tmp_path / "lake")
    before = content(tmp_path / "lake")
    next((landing / "step_trainer" / "landing").glob("step_trainer-*.json")).unlink()
    summary = run(landing, tmp_path / "lake")
    assert summary.ingest()["step_trainer"]["files_missing"] == 1
    assert content(tmp_path / "lake") == before


def test_full_refresh_rebuilds_the_same_tables(source: Path, tmp_path: Path, prefect_harness: None) -> None:
    landing = empty_landing(tmp_path / "landing")
    copy_files(files_of(source), source, landing)
    run(landing, tmp_path / "lake")
    before, first_versions = content(tmp_path / "lake"), versions(tmp_path / "lake")
    summary = run(landing, tmp_path / "lake", full_refresh=True)
    assert summary.rebuilt
    assert content(tmp_path / "lake") == before
    after = versions(tmp_path / "lake")
    assert all(
        (after[t] or 0) > (first_versions[t] or 0) for t in ("customer_landing", "machine_learning_curated")
    )
