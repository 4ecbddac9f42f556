"""What makes `stedi run` start soon and end at once: GX only in the validation process, a lean
temporary server, no teardown at exit. Each check runs in a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.cli_process import small_landing


def python(code: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter (a file, so spawned children can import its main module)."""
    script = cwd / "script.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
        check=False,
    )


def test_a_process_ended_at_exit_keeps_its_code_and_the_later_exit_handlers(tmp_path: Path) -> None:
    result = python(
        """
        import atexit, sys
        from stedi.process import end_at_exit

        atexit.register(print, "torn down")  # registered before: part of the skipped teardown
        end_at_exit(lambda: 3)
        atexit.register(print, "flushed")  # registered after (as Prefect's are): still runs
        print("buffered", end=" ")
        sys.exit(0)
        """,
        tmp_path,
    )
    assert result.returncode == 3, result.stderr
    assert result.stdout == "buffered flushed\n"


def test_without_a_code_the_exit_is_pythons(tmp_path: Path) -> None:
    result = python(
        """
        import atexit, sys
        from stedi.process import end_at_exit

        atexit.register(print, "torn down")
        end_at_exit(lambda: None)
        sys.exit(5)
        """,
        tmp_path,
    )
    assert (result.returncode, result.stdout) == (5, "torn down\n"), result.stderr


@pytest.mark.integration
def test_the_validation_process_is_killed_mid_import_and_stopped_in_order_after_work(tmp_path: Path) -> None:
    result = python(
        """
        import json, time
        import pyarrow as pa
        from stedi import validation_pool
        from stedi.policy import Policy
        from stedi.validation import validate

        if __name__ == "__main__":
            validation_pool.start()
            started = time.perf_counter()
            validation_pool.abandon()  # still importing GX: killed, not awaited
            killed = time.perf_counter() - started
            validation_pool.start()
            frame = pa.table({"serialNumber": ["a", "b"], "distanceFromObject": [1, 2]})
            report = validate("step_trainer_landing", frame, Policy.STRICT, validation_pool.map_parts)
            validation_pool.abandon()  # it has worked: stopped in order, releasing what its libraries hold
            print(json.dumps({"killed_s": killed, "outcomes": len(report.outcomes)}))
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["killed_s"] < 2.0  # importing GX alone takes longer
    assert found["outcomes"] > 0
    assert "leaked" not in result.stderr, result.stderr


@pytest.mark.integration
def test_parts_run_in_the_validation_process_when_it_runs_else_here(tmp_path: Path) -> None:
    result = python(
        """
        import json, os
        from stedi import validation_pool

        def pid(_: int) -> int:
            return os.getpid()

        if __name__ == "__main__":
            alone = validation_pool.map_parts(pid, [1, 2])
            validation_pool.start()
            pooled = validation_pool.map_parts(pid, [1, 2])
            validation_pool.stop()
            print(json.dumps({"here": os.getpid(), "alone": alone, "pooled": pooled}))
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["alone"] == [found["here"]] * 2
    assert len(set(found["pooled"])) == 1 and found["pooled"][0] != found["here"]


@pytest.mark.integration
def test_the_temporary_server_skips_block_types_and_its_runs_send_no_heartbeats(tmp_path: Path) -> None:
    """A Secret block that does not exist is still reported missing, so the salt falls back as before."""
    code = """
        import json
        from stedi.config import prefect_secret
        from stedi.prefect_api import TemporaryServer, prefect_api

        if __name__ == "__main__":
            with prefect_api(TemporaryServer().start()):
                from prefect.client.orchestration import get_client
                from prefect.settings import get_current_settings

                with get_client(sync_client=True) as client:
                    block_types = len(client.read_block_types())
                heartbeat = get_current_settings().flows.heartbeat_frequency
                salt = prefect_secret("stedi-subject-salt")
            print(json.dumps({"block_types": block_types, "heartbeat": heartbeat, "salt": salt}))
        """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env |= {"PREFECT_HOME": str(tmp_path / "home")}
    result = python(code, tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"block_types": 0, "heartbeat": None, "salt": None}

    chosen = python(code, tmp_path, {**env, "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "60"})
    assert chosen.returncode == 0, chosen.stderr
    assert json.loads(chosen.stdout)["heartbeat"] == 60  # the user's choice wins


def test_cli_runs_on_a_running_server_send_no_heartbeats_unless_asked(tmp_path: Path) -> None:
    """Prefect waits up to a second for its heartbeat thread at the end of each run that sends them."""
    code = """
        import json
        from stedi.prefect_api import prefect_api
        from prefect.settings import get_current_settings

        with prefect_api(None) as url:  # only settings are read: no server needs to answer
            print(json.dumps({"url": url, "heartbeat": get_current_settings().flows.heartbeat_frequency}))
        print(json.dumps({"heartbeat": get_current_settings().flows.heartbeat_frequency}))
        """
    env = {**os.environ, "PREFECT_API_URL": "http://127.0.0.1:9/api", "PREFECT_HOME": str(tmp_path / "home")}
    env.pop("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", None)
    result = python(code, tmp_path, env)
    assert result.returncode == 0, result.stderr
    inside, after = (json.loads(line) for line in result.stdout.splitlines())
    assert inside == {"url": "http://127.0.0.1:9/api", "heartbeat": None}
    assert after["heartbeat"] is not None  # Prefect's default outside the CLI's runs (deployments keep it)

    chosen = python(code, tmp_path, {**env, "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "60"})
    assert chosen.returncode == 0, chosen.stderr
    assert json.loads(chosen.stdout.splitlines()[0])["heartbeat"] == 60  # the user's choice wins


def test_the_validation_process_imports_gx_without_unused_statistics_charts_and_sql(tmp_path: Path) -> None:
    """scipy.stats and altair (≈ 1 s of GX's import) load only when something reads them; GX runs
    without SQLAlchemy, as where it is not installed."""
    result = python(
        """
        import json, sys
        from stedi.gx_imports import skip_unused
        from stedi.lazy_imports import Deferred

        skip_unused()
        import great_expectations
        from great_expectations.expectations.core import expect_column_kl_divergence_to_be_less_than as kl
        from stedi.validation import _batch_definition

        _batch_definition()
        before = {n: isinstance(sys.modules[n], Deferred) for n in ("scipy.stats", "altair")}
        loaded = "scipy.stats._stats_py" in sys.modules or "altair.vegalite" in sys.modules
        hidden = sys.modules["sqlalchemy"] is None
        entropy = round(float(kl.stats.entropy([0.5, 0.5], [0.25, 0.75])), 6)  # the real module, on use
        chart = kl.alt.Chart.__name__
        import scipy.stats
        after = {n: isinstance(sys.modules[n], Deferred) for n in ("scipy.stats", "altair")}
        same = scipy.stats is sys.modules["scipy.stats"]
        print(json.dumps({"before": before, "loaded": loaded, "entropy": entropy, "chart": chart,
                          "after": after, "same": same, "hidden": hidden}))
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "before": {"scipy.stats": True, "altair": True},
        "loaded": False,
        "entropy": 0.143841,
        "chart": "Chart",
        "after": {"scipy.stats": False, "altair": False},
        "same": True,
        "hidden": True,
    }


def test_the_cli_imports_prefect_aws_without_its_ecs_observers_client_until_used(tmp_path: Path) -> None:
    result = python(
        """
        import json, sys
        from stedi.cli.run import NOT_USED_BY_RUNS
        from stedi.lazy_imports import defer

        for name in NOT_USED_BY_RUNS:
            defer(name)
        import prefect_aws
        from prefect_aws.observers import ecs

        before = "aiohttp" in sys.modules
        session = type(ecs.aiobotocore.session.get_session()).__name__  # loads it, as an ECS worker would
        print(json.dumps({"before": before, "after": "aiohttp" in sys.modules, "session": session}))
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"before": False, "after": True, "session": "AioSession"}


def test_threads_outside_the_flow_context_see_the_temporary_server(tmp_path: Path) -> None:
    """Prefect threads that do not inherit the flow's settings (its process pool's message forwarder)
    read the settings loaded at import: they must name the temporary server, or each would start a
    temporary server of its own."""
    code = """
        import json, threading
        from stedi.cli.run import start_temporary_server
        from stedi.prefect_api import prefect_api

        if __name__ == "__main__":
            server = start_temporary_server()
            from prefect.settings import get_current_settings

            with prefect_api(server) as url:
                seen = []
                thread = threading.Thread(target=lambda: seen.append(str(get_current_settings().api.url)))
                thread.start()
                thread.join()
            print(json.dumps({"server": url, "thread": seen[0]}))
        """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env |= {"PREFECT_HOME": str(tmp_path / "home")}
    result = python(code, tmp_path, env)
    assert result.returncode == 0, result.stderr
    urls = json.loads(result.stdout)
    assert urls["thread"] == urls["server"]


@pytest.fixture(scope="module")
def api_env(prefect_harness: None) -> dict[str, str]:
    """Runs talk to the test server, as against a running `prefect server start`."""
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}


@pytest.mark.integration
@pytest.mark.slow
def test_a_run_never_imports_great_expectations_fastapi_or_aiohttp_in_the_cli_process(
    tmp_path: Path, api_env: dict[str, str]
) -> None:
    """Every suite runs in the validation process, the units built in the flow process included;
    the run's parameters reach the API as given without FastAPI's encoder."""
    landing, lake = str(small_landing(tmp_path / "landing")), str(tmp_path / "lake")
    result = python(
        f"""
        import json, sys
        from stedi.cli import main

        if __name__ == "__main__":
            code = main(["run", "--landing", {landing!r}, "--lakehouse", {lake!r}])
            imported = [m for m in ("great_expectations", "fastapi", "aiohttp") if m in sys.modules]
            from prefect.client.orchestration import get_client
            from prefect.client.schemas.sorting import FlowRunSort

            with get_client(sync_client=True) as client:
                run = client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=1)[0]
            print(json.dumps({{"imported": imported, "code": code, "parameters": run.parameters}}))
        """,
        tmp_path,
        api_env,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {
        "imported": [],
        "code": 0,
        "parameters": {
            "landing": landing,
            "lakehouse": lake,
            "policy": "strict",
            "full_refresh": False,
            "aws_credentials": None,
            "drop_vanished": False,
        },
    }
    assert "machine_learning_curated" in result.stdout  # the whole build ran and was validated


def test_scalar_parameters_skip_fastapi_and_others_keep_prefects_encoding(tmp_path: Path) -> None:
    result = python(
        """
        import json, sys
        from datetime import date
        from prefect import flow
        from stedi.prefect_api import plain_parameters

        @flow
        def f(a: str, b: bool = False, c: int | None = None, d: float = 0.5) -> None: ...

        scalars = {"a": "x", "b": True, "c": None, "d": 0.5}
        plain = plain_parameters(f).serialize_parameters(scalars)
        before = "fastapi" in sys.modules
        other = plain_parameters(f).serialize_parameters({**scalars, "e": date(2024, 1, 2)})
        untouched = f.serialize_parameters is not plain_parameters(f).serialize_parameters
        print(json.dumps({"plain": plain, "fastapi": before, "other": other, "untouched": untouched}))
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["plain"] == {"a": "x", "b": True, "c": None, "d": 0.5} and not found["fastapi"]
    assert found["other"]["e"] == "2024-01-02" and found["untouched"]


@pytest.mark.integration
@pytest.mark.slow
def test_runs_on_their_own_temporary_server_then_a_rerun_with_nothing_new(tmp_path: Path) -> None:
    """Without a configured API `stedi run` boots its own server; the rerun that finds nothing new
    ends before it, without asking that (not yet healthy) server for the salt's Secret block; and
    neither leaves the server's URL behind for the rest of the process (or its children)."""
    landing = small_landing(tmp_path / "landing")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env |= {"PREFECT_HOME": str(tmp_path / "home"), "STEDI_SUBJECT_SALT": "a-test-salt"}
    command = ["run", "--landing", str(landing), "--lakehouse", str(tmp_path / "lake")]
    code = f"""
        import json, os
        from stedi.cli import main

        if __name__ == "__main__":
            codes = [main({command!r}), main({command!r})]
            left = [k for k in ("PREFECT_API_URL", "STEDI_TEMPORARY_API_URL") if k in os.environ]
            print(json.dumps({{"codes": codes, "left": left}}))
        """
    result = python(code, tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {"codes": [0, 0], "left": []}
    assert "Starting temporary server" not in result.stdout + result.stderr  # Prefect started none itself
