"""prefect.yaml as production runs it: a real Prefect server, a process worker and deployment runs."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from deltalake import DeltaTable

from stedi.generate import GeneratorSpec, generate
from stedi.storage import Lake
from tests.conftest import REPO
from tests.expected import strict_counts
from tests.services import free_port, start, stop, tail, wait_http

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
TASKS = {
    "customer_landing",
    "accelerometer_landing",
    "step_trainer_landing",
    "customer_landing_to_trusted",
    "accelerometer_landing_to_trusted",
    "customer_trusted_to_curated",
    "step_trainer_landing_to_trusted",
    "machine_learning_curated",
    "validation_artifacts",
}


@dataclass
class Server:
    api: httpx.Client
    env: dict[str, str]
    logs: Path

    def get(self, path: str) -> Any:
        response = self.api.get(path)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = self.api.post(path, json=body)
        response.raise_for_status()
        return response.json()

    def prefect(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(BIN / "prefect"), *args],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert result.returncode == 0, f"prefect {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result

    def run_deployment(self, name: str, **params: str) -> str:
        out = self.prefect("deployment", "run", name, "--params", json.dumps(params)).stdout
        match = re.search(r"UUID:\s*([0-9a-f-]{36})", out)
        assert match, out
        return match.group(1)

    def wait(self, flow_run_id: str, timeout: float = 300) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run: dict[str, Any] = self.get(f"/flow_runs/{flow_run_id}")
            if run["state"]["type"] in FINAL:
                return run
            time.sleep(1)
        raise AssertionError(f"flow run {flow_run_id} unfinished after {timeout:.0f} s:\n{tail(self.logs)}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`prefect server start` on 127.0.0.1 with a fresh home, the work pool and blocks, and a worker."""
    home = tmp_path_factory.mktemp("prefect-home")
    logs = home / "services.log"
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AWS_"))}
    env |= {
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_WORKER_QUERY_SECONDS": "2",
        "STEDI_SUBJECT_SALT": os.environ["STEDI_SUBJECT_SALT"],
    }
    server = start([str(BIN / "prefect"), "server", "start"], env, logs)
    worker: subprocess.Popen[bytes] | None = None
    try:
        wait_http(f"{api}/health", server, logs)
        setup = subprocess.run(
            [str(BIN / "python"), "-m", "deployments.setup"],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert setup.returncode == 0, setup.stdout + setup.stderr
        assert "work pool stedi-process created (type process)" in setup.stdout
        assert "Secret block stedi-subject-salt created from STEDI_SUBJECT_SALT" in setup.stdout
        scheduled = tmp_path_factory.mktemp("scheduled")
        deploy_env = env | {
            "STEDI_PROJECT_DIR": str(REPO),
            "STEDI_LANDING": str(scheduled / "landing"),
            "STEDI_LAKEHOUSE": str(scheduled / "lake"),
            "STEDI_AWS_CREDENTIALS_BLOCK": "",
        }
        with httpx.Client(base_url=api, timeout=30) as client:
            handle = Server(client, deploy_env, logs)
            handle.prefect("--no-prompt", "deploy", "--all")
            command = [str(BIN / "prefect"), "worker", "start", "--pool", "stedi-process"]
            worker = start(command, env, logs, REPO)
            yield handle
    finally:
        if worker is not None:
            stop(worker, signal.SIGINT)  # the process worker ignores SIGTERM
        stop(server, signal.SIGTERM)


def test_deployments_are_registered_with_the_hourly_schedule(server: Server) -> None:
    hourly = server.get("/deployments/name/stedi-lakehouse/hourly")
    backfill = server.get("/deployments/name/stedi-lakehouse/backfill")
    assert [(s["schedule"]["cron"], s["schedule"]["timezone"], s["active"]) for s in hourly["schedules"]] == [
        ("0 * * * *", "UTC", True)
    ]
    assert backfill["schedules"] == []
    assert hourly["work_pool_name"] == backfill["work_pool_name"] == "stedi-process"
    assert hourly["pull_steps"] == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}
    ]


def test_a_deployment_run_completes_with_tasks_artifacts_and_tables(server: Server, tmp_path: Path) -> None:
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    generate(landing, GeneratorSpec(customers=60, seed=5, files=2))
    run_id = server.run_deployment("stedi-lakehouse/hourly", landing=str(landing), lakehouse=str(lake))
    run = server.wait(run_id)
    assert run["state"]["type"] == "COMPLETED", f"{run['state']}\n{tail(server.logs)}"
    assert run["name"] == "strict-landing"  # policy and landing folder: no personal data

    task_runs = server.post("/task_runs/filter", {"flow_runs": {"id": {"any_": [run_id]}}})
    assert {t["name"].rsplit("-", 1)[0] for t in task_runs} >= TASKS
    assert {t["state"]["type"] for t in task_runs} == {"COMPLETED"}

    artifacts = server.post("/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run_id]}}})
    by_key = {a["key"]: a for a in artifacts}
    assert {k: by_key[k]["type"] for k in ("stedi-run-report", "stedi-expectations", "stedi-data-docs")} == {
        "stedi-run-report": "markdown",
        "stedi-expectations": "table",
        "stedi-data-docs": "markdown",  # Prefect stores a link artifact as markdown: [text](url)
    }
    rows = json.loads(by_key["stedi-expectations"]["data"])
    assert rows and {r["result"] for r in rows} <= {"passed", "FAILED"}
    assert "machine_learning_curated" in {r["table"] for r in rows}
    link = re.fullmatch(r"\[Great Expectations Data Docs\]\((.+)\)", by_key["stedi-data-docs"]["data"])
    assert link and link[1].startswith((lake / "data_docs" / "validations").as_uri() + "/")  # the run's page
    assert Path(unquote(link[1].removeprefix("file://"))).is_file()
    assert (lake / "data_docs" / "index.html").is_file()

    expected = strict_counts(landing)
    assert {t: Lake(str(lake), {}).count(t) for t in expected} == expected


def test_a_run_that_breaks_a_blocking_expectation_fails_naming_it(server: Server, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    generate(landing, GeneratorSpec(customers=20, seed=3, files=1))
    customer_file = next((landing / "customer" / "landing").glob("*.json"))
    records = [json.loads(line) for line in customer_file.read_text().splitlines()]
    customer_file.write_text(
        "".join(json.dumps(r | {"email": r["email"].replace("@", " at ")}) + "\n" for r in records)
    )
    run_id = server.run_deployment(
        "stedi-lakehouse/backfill", landing=str(landing), lakehouse=str(tmp_path / "lake")
    )
    run = server.wait(run_id)
    assert run["state"]["type"] == "FAILED", run["state"]
    assert "customer_landing: expect_column_values_to_match_regex on email failed" in run["state"]["message"]
    assert not [r for r in records if r["email"].replace("@", " at ") in run["state"]["message"]]
    # Nothing was published: the aborted stream committed no Delta version.
    assert not DeltaTable.is_deltatable(str(tmp_path / "lake" / "landing" / "customer_landing"))
