"""SIGKILL a real `stedi run` at many points; the next run leaves tables equal to an uninterrupted run.

Also: two runs started at once on the same lakehouse finish without duplicates.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stedi.generate import GeneratorSpec, generate
from tests.lakes import Tables, content

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# After each task's commit and before some of them: every step boundary of a run.
KILL_POINTS = [
    "before_commit:customer_landing",
    "after_commit:customer_landing",
    "after_commit:quarantine",
    "before_commit:ingest_log",
    "after_commit:ingest_log",
    "before_commit:accelerometer_landing",
    "after_commit:accelerometer_landing",
    "after_commit:step_trainer_landing",
    "after_commit:customer_trusted",
    "after_commit:accelerometer_trusted",
    "after_commit:customer_curated",
    "after_commit:step_trainer_trusted",
    "before_commit:machine_learning_curated",
]
# Kills at arbitrary moments land inside Parquet and log writes, too.
KILL_AFTER_SECONDS = [0.5, 1.5, 3.0]


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("landing")
    generate(root, GeneratorSpec(customers=80, seed=5, files=3))
    return root


@pytest.fixture(scope="module")
def api_env(prefect_harness: None) -> dict[str, str]:
    """Subprocesses talk to the test server, so each run skips starting a temporary one."""
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}


@pytest.fixture(scope="module")
def reference(landing: Path, tmp_path_factory: pytest.TempPathFactory, api_env: dict[str, str]) -> Tables:
    lake = tmp_path_factory.mktemp("reference")
    assert stedi_run(landing, lake, api_env).returncode == 0
    return content(lake)


def command(landing: Path, lakehouse: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "stedi.cli",
        "run",
        "--landing",
        str(landing),
        "--lakehouse",
        str(lakehouse),
    ]


def stedi_run(landing: Path, lakehouse: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(landing, lakehouse), env=env, capture_output=True, text=True, timeout=300)


def assert_rerun_recovers(landing: Path, lakehouse: Path, env: dict[str, str], reference: Tables) -> None:
    again = stedi_run(landing, lakehouse, env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert content(lakehouse) == reference
    staged = [p for p in (lakehouse / "_staging").rglob("*") if p.is_file()]
    assert staged == [], "a crashed run's staged rows must not outlive the next run"


@pytest.mark.parametrize("point", KILL_POINTS)
def test_killed_at_a_step_boundary_then_rerun_equals_uninterrupted(
    point: str,
    landing: Path,
    tmp_path: Path,
    api_env: dict[str, str],
    reference: Tables,
) -> None:
    killed = stedi_run(landing, tmp_path, {**api_env, "STEDI_FAULT_KILL_AT": point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert_rerun_recovers(landing, tmp_path, api_env, reference)


@pytest.mark.parametrize("delay", KILL_AFTER_SECONDS)
def test_killed_at_an_arbitrary_moment_then_rerun_equals_uninterrupted(
    delay: float,
    landing: Path,
    tmp_path: Path,
    api_env: dict[str, str],
    reference: Tables,
) -> None:
    process = subprocess.Popen(
        command(landing, tmp_path), env=api_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert_rerun_recovers(landing, tmp_path, api_env, reference)


def test_two_runs_at_once_never_duplicate(
    landing: Path,
    tmp_path: Path,
    api_env: dict[str, str],
    reference: Tables,
) -> None:
    runs = [
        subprocess.Popen(
            command(landing, tmp_path), env=api_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for run in runs:
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0, err[-2000:]
    assert content(tmp_path) == reference


# An incremental build killed between its commits: the rerun recomputes the same days again (each
# table's commit replaces those days whole), so nothing is absorbed twice.
APPEND_KILL_POINTS = [
    "after_commit:customer_trusted",
    "after_commit:accelerometer_trusted",
    "after_commit:step_trainer_trusted",
    "before_commit:machine_learning_curated",
]


@pytest.fixture(scope="module")
def growing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two files per feed with disjoint customers: the first is the base, the second arrives later."""
    root = tmp_path_factory.mktemp("growing")
    generate(root, GeneratorSpec(customers=50, seed=13, files=2, newer_record_share=0, shared_device_share=0))
    return root


def split_landing(source: Path, target: Path, part: int | None) -> Path:
    """`target` with the first file of every feed (part 0) or all of them (None)."""
    for feed in ("customer", "accelerometer", "step_trainer"):
        files = sorted((source / feed / "landing").glob("*.json"))
        (target / feed / "landing").mkdir(parents=True, exist_ok=True)
        for f in files if part is None else files[: part + 1]:
            shutil.copy2(f, target / feed / "landing" / f.name)
    return target


@pytest.fixture(scope="module")
def grown_reference(
    growing: Path, tmp_path_factory: pytest.TempPathFactory, api_env: dict[str, str]
) -> Tables:
    root = tmp_path_factory.mktemp("grown-reference")
    assert stedi_run(split_landing(growing, root / "landing", None), root / "lake", api_env).returncode == 0
    return content(root / "lake")


@pytest.fixture(scope="module")
def base_lake(growing: Path, tmp_path_factory: pytest.TempPathFactory, api_env: dict[str, str]) -> Path:
    root = tmp_path_factory.mktemp("base")
    assert stedi_run(split_landing(growing, root / "landing", 0), root / "lake", api_env).returncode == 0
    return root / "lake"


@pytest.mark.parametrize("point", APPEND_KILL_POINTS)
def test_killed_between_appends_then_rerun_appends_exactly_once(
    point: str,
    growing: Path,
    base_lake: Path,
    tmp_path: Path,
    api_env: dict[str, str],
    grown_reference: Tables,
) -> None:
    from stedi.build import FULL
    from stedi.storage import Lake

    lake = tmp_path / "lake"
    shutil.copytree(base_lake, lake)
    landing = split_landing(growing, tmp_path / "landing", None)
    killed = stedi_run(landing, lake, {**api_env, "STEDI_FAULT_KILL_AT": point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert_rerun_recovers(landing, lake, api_env, grown_reference)
    info = Lake(str(lake), {}).commit_info("machine_learning_curated")
    assert info[FULL] == "false"  # the rerun recomputed the new rows' days only
