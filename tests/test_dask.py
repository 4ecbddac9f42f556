"""The lakehouse flow on a real Dask cluster (a scheduler and two worker processes) equals a local run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pyarrow as pa
import pytest

from stedi.generate import GeneratorSpec, generate
from stedi.storage import Lake
from tests.conftest import REPO
from tests.lakes import TABLES

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DASK = Path(sys.executable).with_name("dask")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1; yields the scheduler address."""
    from distributed import Client

    logs = tmp_path_factory.mktemp("dask-logs")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    quiet = ["--no-dashboard"]
    commands = {
        "scheduler": [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        **{
            f"worker-{k}": [str(DASK), "worker", address, "--host", "127.0.0.1", "--nthreads", "1", *quiet]
            for k in range(2)
        },
    }
    stack = ExitStack()
    procs = []
    for name, command in commands.items():
        log = stack.enter_context((logs / f"{name}.log").open("w"))
        procs.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO))
    try:
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        stack.close()


def tables(lake: Lake) -> dict[str, pa.Table]:
    out = {}
    for table in TABLES:  # the ingest log differs by run id and time, by design
        data = lake.read(table)
        drop = [c for c in ("_ingested_at",) if c in data.column_names]
        data = data.drop_columns(drop)
        out[table] = data.sort_by([(c, "ascending") for c in data.column_names])
    return out


def tasks_run_on(address: str) -> set[str]:
    from distributed import Client

    with Client(address, timeout=60) as client:
        prefixes = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes))
    return {str(p) for p in prefixes}


def test_flow_on_two_dask_workers_equals_the_single_process_run(
    tmp_path: Path, prefect_harness: None, dask_cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.runners import stedi_lakehouse_dask
    from flows.stedi_lakehouse import stedi_lakehouse

    landing = tmp_path / "landing"
    generate(landing, GeneratorSpec(customers=200, seed=5))
    stedi_lakehouse(landing=str(landing), lakehouse=str(tmp_path / "local"))
    # Small batches, so every large-enough table's validation is split over the workers.
    monkeypatch.setattr("stedi.validation.BATCH_ROWS", 2_000)
    monkeypatch.setattr("tasks.plan.MIN_PARALLEL_ROWS", 0)  # the units of days go to the workers too
    monkeypatch.setattr("tasks.landing.GROUP_BYTES", 1)  # and the landing files, a group per file
    stedi_lakehouse_dask(landing=str(landing), lakehouse=str(tmp_path / "dask"), dask_address=dask_cluster)

    ran = tasks_run_on(dask_cluster)
    assert any("validate_part" in p for p in ran)
    assert any("build_days" in p for p in ran)
    assert any("stage_landing_files" in p for p in ran)  # landing files parsed and staged by day
    assert any("land_days" in p for p in ran)  # and written a unit of days at a time
    local, on_dask = Lake(str(tmp_path / "local"), {}), Lake(str(tmp_path / "dask"), {})
    expected, actual = tables(local), tables(on_dask)
    for table in TABLES:
        assert actual[table].equals(expected[table]), table
        assert on_dask.version(table) == local.version(table)
