"""prefect.yaml and deployments/remote.yaml as production runs them: read by Prefect's own loader, then
registered on a real Prefect server and run by a process worker."""

from __future__ import annotations

import importlib
import inspect
import io
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
import yaml
from deltalake import DeltaTable

from stedi.generate import GeneratorSpec, generate
from stedi.storage import Lake
from tests.conftest import REPO
from tests.expected import strict_counts
from tests.services import prefect_server, start, stop, tail

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
LOCAL_YAML = REPO / "prefect.yaml"
REMOTE_YAML = REPO / "deployments" / "remote.yaml"
DEPLOYMENTS = ["hourly", "backfill", "erasure", "maintenance"]
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
LANDING_TASKS = {"customer_landing", "accelerometer_landing", "step_trainer_landing"}
# A derived table is built whole (task run named after the table) or by days, then committed once.
DERIVED = [
    "customer_trusted",
    "accelerometer_trusted",
    "customer_curated",
    "step_trainer_trusted",
    "machine_learning_curated",
]


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

    def prefect(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(BIN / "prefect"), *args],
            env=self.env | (env or {}),
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

    def run_with(self, deployment: str, parameters: dict[str, Any]) -> str:
        """A flow run created through the API, as the UI does (a picked block is a `$ref`)."""
        found = self.get(f"/deployments/name/{deployment}")
        run: dict[str, Any] = self.post(
            f"/deployments/{found['id']}/create_flow_run", {"parameters": parameters}
        )
        return str(run["id"])

    def run_logs(self, flow_run_id: str) -> list[str]:
        body = {"logs": {"flow_run_id": {"any_": [flow_run_id]}}, "sort": "TIMESTAMP_ASC"}
        return [str(entry["message"]) for entry in self.post("/logs/filter", body)]

    def wait(self, flow_run_id: str, timeout: float = 300) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run: dict[str, Any] = self.get(f"/flow_runs/{flow_run_id}")
            if run["state"]["type"] in FINAL:
                return run
            time.sleep(1)
        raise AssertionError(f"flow run {flow_run_id} unfinished after {timeout:.0f} s:\n{tail(self.logs)}")


# --- The deployment files, as `prefect deploy` reads them ---------------------------------------------


def load_deploy_file(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Deployments and actions of `path` through the loader of `prefect deploy` (its pydantic model).

    That loader prints a validation error and carries on with no deployments: the error is returned in
    the assertion message instead.
    """
    from prefect.cli.deploy._config import _load_deploy_configs_and_actions
    from rich.console import Console

    printed = io.StringIO()
    deployments, actions = _load_deploy_configs_and_actions(path, console=Console(file=printed, width=200))
    assert [d.get("name") for d in deployments] == DEPLOYMENTS, printed.getvalue()
    return deployments, actions


def bind_step(step: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Check that a step names an importable Prefect step and that its arguments fit its signature."""
    ((name, arguments),) = step.items()
    module, _, function = name.rpartition(".")
    fn = getattr(importlib.import_module(module), function)
    inspect.signature(fn).bind(**{k: v for k, v in arguments.items() if k not in {"id", "requires"}})
    return name, arguments


@pytest.mark.parametrize("path", [LOCAL_YAML, REMOTE_YAML], ids=["prefect.yaml", "remote.yaml"])
def test_the_deployment_files_load_with_prefects_own_model(path: Path) -> None:
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

    deployments, actions = load_deploy_file(path)
    for step in actions["pull"]:
        bind_step(step)
    for d in deployments:
        file, _, function = d["entrypoint"].partition(":")
        assert f"def {function}(" in (REPO / file).read_text(), d["entrypoint"]
        limit = d["concurrency_limit"]
        config = ConcurrencyLimitConfig.model_validate(limit if isinstance(limit, dict) else {"limit": limit})
        assert config.limit == 1, d["name"]
        expected = (
            ConcurrencyLimitStrategy.CANCEL_NEW if d["name"] == "hourly" else ConcurrencyLimitStrategy.ENQUEUE
        )
        assert config.collision_strategy == expected, d["name"]
        assert d["parameters"]["aws_credentials"] == "{{ $STEDI_AWS_CREDENTIALS_BLOCK }}", d["name"]
        assert d["enforce_parameter_schema"] is False, d["name"]


def test_the_remote_variant_clones_a_commit_and_installs_the_lock() -> None:
    _, actions = load_deploy_file(REMOTE_YAML)
    (clone, clone_args), (install, install_args) = (bind_step(step) for step in actions["pull"])
    assert clone == "prefect.deployments.steps.git_clone"
    assert clone_args["commit_sha"] == "{{ $STEDI_GIT_COMMIT }}"
    assert install == "prefect.deployments.steps.pip_install_requirements"
    assert install_args["directory"] == "{{ " + clone_args["id"] + ".directory }}"
    assert (REPO / install_args["requirements_file"]).is_file()
    assert "--require-hashes" in (REPO / "Makefile").read_text()  # the lock is what `make install` uses


def test_both_variants_define_the_same_deployments() -> None:
    """remote.yaml differs from prefect.yaml only in how the code reaches the worker."""
    differs = {"pull", "work_pool", "description"}
    local, _ = load_deploy_file(LOCAL_YAML)
    remote, _ = load_deploy_file(REMOTE_YAML)
    for here, there in zip(local, remote, strict=True):
        assert {k: v for k, v in here.items() if k not in differs} == {
            k: v for k, v in there.items() if k not in differs
        }
    assert {d["work_pool"]["name"] for d in local} == {"stedi-process"}
    assert {d["work_pool"]["name"] for d in remote} == {"stedi-remote"}


def test_the_deployment_guide_lists_every_deployment() -> None:
    guide = (REPO / "deployments" / "README.md").read_text()
    assert [name for name in DEPLOYMENTS if f"`{name}`" not in guide] == []
    assert "deployments/remote.yaml" in guide


# --- On a real server and worker ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`prefect server start` on 127.0.0.1 with a fresh home, the work pool and blocks, and a worker."""
    home = tmp_path_factory.mktemp("prefect-home")
    logs = home / "services.log"
    salt = os.environ["STEDI_SUBJECT_SALT"]
    worker: subprocess.Popen[bytes] | None = None
    with prefect_server(home, logs, PREFECT_WORKER_QUERY_SECONDS="2", STEDI_SUBJECT_SALT=salt) as (api, env):
        try:
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


def test_deployments_are_registered_with_the_hourly_schedule(server: Server) -> None:
    hourly = server.get("/deployments/name/stedi-lakehouse/hourly")
    backfill = server.get("/deployments/name/stedi-lakehouse/backfill")
    server.get("/deployments/name/erase-subjects/erasure")
    server.get("/deployments/name/stedi-maintenance/maintenance")
    # An overrunning hour skips the next run instead of queueing it; a manual backfill waits its turn.
    assert hourly["global_concurrency_limit"]["limit"] == backfill["global_concurrency_limit"]["limit"] == 1
    assert hourly["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
    assert hourly["enforce_parameter_schema"] is False  # a picked AwsCredentials block must get through
    assert (backfill["concurrency_options"] or {}).get("collision_strategy", "ENQUEUE") == "ENQUEUE"
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
    names = {t["name"] for t in task_runs}
    assert names >= LANDING_TASKS, names
    assert [t for t in DERIVED if t not in names and f"commit-{t}" not in names] == [], names
    assert any(n.startswith("validation_artifacts") for n in names), names
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


def test_aws_credentials_offers_the_block_picker(server: Server) -> None:
    for name in ("stedi-lakehouse/hourly", "erase-subjects/erasure", "stedi-maintenance/maintenance"):
        schema = server.get(f"/deployments/name/{name}")["parameter_openapi_schema"]
        choices = schema["properties"]["aws_credentials"]["anyOf"]
        assert {"$ref": "#/definitions/AwsCredentials"} in choices, name
        assert {"type": "string"} in choices, name  # a block name typed in, or "" for the AWS_* environment
        assert schema["definitions"]["AwsCredentials"]["block_type_slug"] == "aws-credentials", name


def test_an_hourly_run_is_skipped_while_the_previous_one_runs(server: Server, tmp_path: Path) -> None:
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    generate(landing, GeneratorSpec(customers=20, seed=9, files=1))
    params = {"landing": str(landing), "lakehouse": str(lake)}
    first = server.run_with("stedi-lakehouse/hourly", params)
    second = server.run_with("stedi-lakehouse/hourly", params)
    runs = [server.wait(first), server.wait(second)]
    assert sorted(r["state"]["type"] for r in runs) == ["CANCELLED", "COMPLETED"], tail(server.logs)
    (skipped,) = (r for r in runs if r["state"]["type"] == "CANCELLED")
    assert skipped["state"]["message"] == "Deployment concurrency limit reached."


def _save_credentials_block(server: Server, name: str) -> str:
    """An AwsCredentials block with test keys (a local lake never calls its endpoint); returns its id."""
    script = (
        "from prefect_aws import AwsClientParameters, AwsCredentials\n"
        "block = AwsCredentials(aws_access_key_id='test-key-id', aws_secret_access_key='test-secret-key',"
        " region_name='us-east-1', aws_client_parameters=AwsClientParameters(endpoint_url='http://127.0.0.1:9'))\n"
        f"print(block.save({name!r}, overwrite=True))\n"
    )
    done = subprocess.run(
        [str(BIN / "python"), "-c", script],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_a_picked_credentials_block_and_a_block_name_both_reach_the_flow(
    server: Server, tmp_path: Path
) -> None:
    block_id = _save_credentials_block(server, "stedi-test-aws")
    landing = tmp_path / "landing"
    generate(landing, GeneratorSpec(customers=20, seed=4, files=1))
    for n, credentials in enumerate([{"$ref": {"block_document_id": block_id}}, "stedi-test-aws"]):
        params = {
            "landing": str(landing),
            "lakehouse": str(tmp_path / f"lake{n}"),
            "aws_credentials": credentials,
        }
        run_id = server.run_with("stedi-lakehouse/backfill", params)
        run = server.wait(run_id)
        assert run["state"]["type"] == "COMPLETED", f"{run['state']}\n{tail(server.logs)}"
        assert run["parameters"]["aws_credentials"] == credentials  # a reference or a name, never a key
        logs = "\n".join(server.run_logs(run_id))
        assert "storage options from AwsCredentials block stedi-test-aws" in logs
        assert "test-secret-key" not in logs

    missing = server.run_with(
        "stedi-lakehouse/backfill",
        {"landing": str(landing), "lakehouse": str(tmp_path / "lake2"), "aws_credentials": "no-such-block"},
    )
    run = server.wait(missing)
    assert run["state"]["type"] == "FAILED"
    assert "no AwsCredentials block named 'no-such-block'" in run["state"]["message"]


def test_the_remote_variant_runs_the_cloned_commit(server: Server, tmp_path: Path) -> None:
    """deployments/remote.yaml's pull steps, for real: clone this repository at HEAD, install the lock."""
    config = yaml.safe_load(REMOTE_YAML.read_text())
    backfill = next(d for d in config["deployments"] if d["name"] == "backfill")
    # Registered under its own name on the worker's pool, so the local deployments stay as they are.
    config["deployments"] = [backfill | {"name": "backfill-remote", "work_pool": {"name": "stedi-process"}}]
    config.pop("definitions")
    prefect_file = tmp_path / "remote.yaml"
    prefect_file.write_text(yaml.safe_dump(config, sort_keys=False))
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    git = {"STEDI_GIT_REPOSITORY": REPO.as_uri(), "STEDI_GIT_COMMIT": commit}
    server.prefect("--no-prompt", "deploy", "--all", "--prefect-file", str(prefect_file), env=git)
    registered = server.get("/deployments/name/stedi-lakehouse/backfill-remote")
    assert registered["pull_steps"][0]["prefect.deployments.steps.git_clone"] == {
        "id": "clone",
        "repository": REPO.as_uri(),
        "commit_sha": commit,
    }

    landing, lake = tmp_path / "landing", tmp_path / "lake"
    generate(landing, GeneratorSpec(customers=30, seed=6, files=1))
    run_id = server.run_deployment(
        "stedi-lakehouse/backfill-remote", landing=str(landing), lakehouse=str(lake)
    )
    run = server.wait(run_id, timeout=600)
    assert run["state"]["type"] == "COMPLETED", f"{run['state']}\n{tail(server.logs)}"
    logs = "\n".join(server.run_logs(run_id))
    assert "Running 2 deployment pull step(s)" in logs
    expected = strict_counts(landing)
    assert {t: Lake(str(lake), {}).count(t) for t in expected} == expected
