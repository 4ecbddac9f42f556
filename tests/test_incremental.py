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


DERIVED_READINGS = ("accelerometer_trusted", "step_trainer_trusted", "machine_learning_curated")


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


def test_full_refresh_keeps_vanished_rows_unless_asked_to_drop_them(
    source: Path, tmp_path: Path, prefect_harness: None
) -> None:
    landing = empty_landing(tmp_path / "landing")
    copy_files(files_of(source), source, landing)
    run(landing, tmp_path / "lake")
    before = content(tmp_path / "lake")
    gone = next((landing / "step_trainer" / "landing").glob("step_trainer-*.json"))
    lines = sum(1 for line in gone.read_text().splitlines() if line.strip())
    gone.unlink()
    kept = run(landing, tmp_path / "lake", full_refresh=True)
    assert kept.ingest()["step_trainer"]["rows_of_vanished_files_dropped"] == 0
    assert content(tmp_path / "lake") == before
    dropped = run(landing, tmp_path / "lake", full_refresh=True, drop_vanished=True)
    assert dropped.ingest()["step_trainer"]["rows_of_vanished_files_dropped"] == lines
    assert dropped.rows("step_trainer_landing") == kept.rows("step_trainer_landing") - lines


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


# --- Incremental builds: only the days touched by new landing rows or by changed customer decisions
# are recomputed; the tables always equal a one-shot build of the same files.


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three files per feed with disjoint customers, no later records and no shared devices."""
    root = tmp_path_factory.mktemp("parts")
    generate(root, GeneratorSpec(customers=45, seed=11, files=3, newer_record_share=0, shared_device_share=0))
    return root


def part_files(root: Path, feed: str, part: int | None = None) -> list[Path]:
    files = sorted((root / feed / "landing").glob("*.json"))
    return files if part is None else [files[part]]


def incremental(lakehouse: Path) -> bool:
    """Whether the last build of the derived tables kept rows of an earlier one (not every day recomputed)."""
    from stedi.build import FULL
    from stedi.storage import Lake

    return json.loads(str(Lake(str(lakehouse), {}).commit_info("machine_learning_curated")[FULL])) is False


# Which files each run adds: (customer, accelerometer, step_trainer) parts, None for all of a feed.
SCENARIOS = {
    # new customers who consent, with their readings and step readings
    "new_customers": [(0, 0, 0), (1, 1, 1), (2, 2, 2)],
    # step readings first: customers become curated when their accelerometer readings arrive later
    "steps_before_readings": [(None, 0, None), (None, 1, None), (None, 2, None)],
    "steps_after_readings": [(None, None, 0), (None, None, 1), (None, None, 2)],
    # readings first: customers who consent later own older readings and step readings
    "customers_after_readings": [(0, None, None), (1, None, None), (2, None, None)],
}


def add_parts(root: Path, landing: Path, wanted: tuple[int | None, ...]) -> None:
    for feed, part in zip(("customer", "accelerometer", "step_trainer"), wanted, strict=True):
        files = [f for f in part_files(root, feed, part) if not (landing / f.relative_to(root)).exists()]
        copy_files(files, root, landing)


@pytest.mark.parametrize("policy", ["strict", "udacity"])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_new_landing_rows_recompute_some_days_and_equal_a_one_shot_build(
    scenario: str, policy: str, parts: Path, tmp_path: Path, prefect_harness: None
) -> None:
    landing = empty_landing(tmp_path / "landing")
    lake = tmp_path / "incremental"
    for k, wanted in enumerate(SCENARIOS[scenario]):
        add_parts(parts, landing, wanted)
        summary = run(landing, lake, policy=policy)
        assert incremental(lake) == (k > 0)
    one_shot = empty_landing(tmp_path / "one-shot-landing")
    copy_files(files_of(parts), parts, one_shot)
    reference = run(one_shot, tmp_path / "one-shot", policy=policy)
    assert content(lake) == content(tmp_path / "one-shot")
    assert summary.funnel() == reference.funnel()


def test_an_incremental_build_reports_totals_and_recomputes_only_dirty_days(
    parts: Path, tmp_path: Path, prefect_harness: None
) -> None:
    from stedi.build import APPENDED, DAYS
    from stedi.storage import Lake

    landing = empty_landing(tmp_path / "landing")
    add_parts(parts, landing, (0, 0, 0))
    run(landing, tmp_path / "lake")
    every_day = int(str(Lake(str(tmp_path / "lake"), {}).commit_info("accelerometer_trusted")[DAYS]))
    add_parts(parts, landing, (None, 1, None))
    second = run(landing, tmp_path / "lake")
    step = second.step("accelerometer_trusted")
    assert step is not None
    assert step.counts["readings"] == second.rows("accelerometer_landing")
    kept = step.counts["readings"] - step.counts["of_non_consenting_owners"] - step.counts["before_consent"]
    assert step.rows == kept
    info = Lake(str(tmp_path / "lake"), {}).commit_info("accelerometer_trusted")
    recomputed, appended = int(str(info[DAYS])), int(str(info[APPENDED]))
    assert recomputed + appended > 0 and recomputed < every_day and incremental(tmp_path / "lake")
    assert every_day > 0


def revoke(root: Path, landing: Path) -> None:
    """A later customer file: the newest record of the first consenting customer withdraws consent."""
    records = [json.loads(x) for x in part_files(root, "customer", 0)[0].read_text().splitlines()]
    person = next(r for r in records if r.get("shareWithResearchAsOfDate"))
    later = dict(person, lastUpdateDate=person["lastUpdateDate"] + 1, shareWithResearchAsOfDate=None)
    (landing / "customer" / "landing" / "revocation.json").write_text(json.dumps(later) + "\n")


@pytest.mark.parametrize("policy", ["strict", "udacity"])
def test_a_revocation_in_a_later_file_recomputes_that_customers_days(
    policy: str, parts: Path, tmp_path: Path, prefect_harness: None
) -> None:
    """strict: the revocation removes the customer's rows from the days holding them; udacity keys on
    any consenting record, so the revocation changes nothing. Neither rebuilds every day."""
    landing = empty_landing(tmp_path / "landing")
    copy_files(files_of(parts), parts, landing)
    run(landing, tmp_path / "lake", policy=policy)
    before = content(tmp_path / "lake")
    revoke(parts, landing)
    run(landing, tmp_path / "lake", policy=policy)
    assert incremental(tmp_path / "lake")
    run(landing, tmp_path / "one-shot", policy=policy)
    after = content(tmp_path / "one-shot")
    assert content(tmp_path / "lake") == after
    changed = after["machine_learning_curated"] != before["machine_learning_curated"]
    assert changed == (policy == "strict")


def test_maintenance_never_makes_the_next_run_rebuild(
    parts: Path, tmp_path: Path, prefect_harness: None
) -> None:
    """OPTIMIZE, Z-order and VACUUM change no row: the next run commits nothing, and the run after
    a new delivery recomputes only the new rows' days, on top of the maintained layout."""
    from flows.maintenance import stedi_maintenance

    landing = empty_landing(tmp_path / "landing")
    lake = tmp_path / "lake"
    add_parts(parts, landing, (0, 0, 0))
    run(landing, lake)
    stedi_maintenance(lakehouse=str(lake))
    maintained = versions(lake)
    assert not run(landing, lake).rebuilt
    assert versions(lake) == maintained
    from stedi.build import APPENDED, DAYS
    from stedi.storage import Lake

    compacted = {t: Lake(str(lake), {}).files(t) for t in DERIVED_READINGS}
    add_parts(parts, landing, (1, 1, 1))
    run(landing, lake)
    assert incremental(lake)
    for table in DERIVED_READINGS:
        # New customers only add rows: no day is replaced, the compacted files stay.
        info = Lake(str(lake), {}).commit_info(table)
        assert int(str(info[DAYS])) == 0 and int(str(info[APPENDED])) > 0, table
        assert compacted[table] <= Lake(str(lake), {}).files(table), table
    one_shot = empty_landing(tmp_path / "one-shot-landing")
    add_parts(parts, one_shot, (0, 0, 0))
    add_parts(parts, one_shot, (1, 1, 1))
    run(one_shot, tmp_path / "one-shot")
    assert content(lake) == content(tmp_path / "one-shot")
