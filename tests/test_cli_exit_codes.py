"""Every exit code of `stedi`, produced for real by the command in a subprocess, and the one mapping."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
from pathlib import Path

import pytest
from deltalake import DeltaTable
from prefect import flow, task
from prefect.task_runners import ProcessPoolTaskRunner

from stedi.cli.exit_codes import ExitCode, exit_code, one_line
from stedi.errors import (
    InputError,
    LakehouseBusyError,
    LayoutError,
    SchemaConflictError,
    StediError,
    TransientError,
    ValidationFailedError,
)
from stedi.validation import Outcome, ValidationReport
from tests.cli_process import COMMAND, break_emails, small_landing, stedi
from tests.data_docs_helpers import index_rows
from tests.services import free_port


@pytest.fixture(scope="module")
def api_env(prefect_harness: None) -> dict[str, str]:
    """Runs talk to the test server instead of each starting a temporary one."""
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}


def unreachable_s3() -> dict[str, str]:
    """An S3 endpoint on a closed local port: every request is refused (the client retries for ≈ 3 s)."""
    return {
        **os.environ,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": "test-key",
        "AWS_SECRET_ACCESS_KEY": "test-secret",
        "AWS_REGION": "us-east-1",
    }


def only_error_line(result: subprocess.CompletedProcess[str], command: str) -> str:
    """The command's one error line (the last line of stderr); no traceback without --debug."""
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"stedi {command}: "), result.stderr
    return last


# --- the mapping, class by class -------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ValidationFailedError("customer_trusted", ["expect_x failed"]), ExitCode.VALIDATION_FAILED),
        (InputError("bad"), ExitCode.BAD_INPUT),
        (LayoutError("no feeds"), ExitCode.BAD_INPUT),
        (SchemaConflictError("foreign table"), ExitCode.BAD_INPUT),
        (LakehouseBusyError("taken"), ExitCode.BUSY),
        (TransientError("timeout"), ExitCode.STORAGE),
        (OSError("Generic S3 error"), ExitCode.STORAGE),
        (TimeoutError("read timed out"), ExitCode.STORAGE),
        (KeyboardInterrupt(), ExitCode.INTERRUPTED),
        (KeyError("x"), ExitCode.UNEXPECTED),
        (StediError("neither terminal nor transient"), ExitCode.UNEXPECTED),
    ],
)
def test_each_error_class_has_its_exit_code(error: BaseException, code: ExitCode) -> None:
    assert exit_code(error) is code


def test_deltalake_and_prefect_client_errors_are_classified() -> None:
    import httpx
    from deltalake.exceptions import CommitFailedError, DeltaError, SchemaMismatchError, TableNotFoundError

    assert exit_code(CommitFailedError("concurrent commit")) is ExitCode.STORAGE
    assert exit_code(TableNotFoundError("no table")) is ExitCode.BAD_INPUT
    assert exit_code(SchemaMismatchError("other schema")) is ExitCode.BAD_INPUT
    assert exit_code(DeltaError("Kernel error: Json error")) is ExitCode.UNEXPECTED
    assert exit_code(httpx.ConnectError("connection refused")) is ExitCode.STORAGE


def test_an_unknown_wrapper_is_classified_by_its_explicit_cause() -> None:
    try:
        try:
            raise OSError("connection reset")
        except OSError as cause:
            raise RuntimeError("while writing") from cause
    except RuntimeError as wrapped:
        assert exit_code(wrapped) is ExitCode.STORAGE


def test_codes_are_the_documented_numbers() -> None:
    assert {c.name: int(c) for c in ExitCode} == {
        "OK": 0,
        "VALIDATION_FAILED": 1,
        "BAD_INPUT": 2,
        "BUSY": 3,
        "STORAGE": 4,
        "UNEXPECTED": 70,
        "INTERRUPTED": 130,
    }
    table = ExitCode.__doc__ or ""
    for code in ExitCode:
        assert f"| {int(code):>4} | {code.name:<17} |" in table, f"{code.name} missing from the docstring"


NOT_NULL = Outcome(
    "customer_trusted", "expect_column_values_to_not_be_null", "email", "critical", False, 2, ""
)
REPORT = ValidationReport("customer_trusted", 10, [NOT_NULL], 0.5)


def test_validation_failure_keeps_its_class_across_processes() -> None:
    """Tasks in worker processes send their exception back pickled, with the failing report."""
    error = ValidationFailedError("customer_trusted", ["expect_a failed", "expect_b failed"], REPORT)
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is ValidationFailedError
    assert (back.table, back.failures, str(back)) == (error.table, error.failures, str(error))
    assert back.report == REPORT


@task
def _failing_check(table: str) -> int:
    raise ValidationFailedError(table, [NOT_NULL.describe()], REPORT)


@flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
def _flow_with_a_worker_process() -> int:
    return _failing_check.submit("customer_trusted").result()


@pytest.mark.integration
@pytest.mark.slow
def test_a_flow_raises_the_failed_worker_tasks_own_error(prefect_harness: None) -> None:
    """What `stedi run` sees when a task in a worker process fails validation: the task's error."""
    with pytest.raises(ValidationFailedError) as raised:
        _flow_with_a_worker_process()
    assert raised.value.table == "customer_trusted"
    assert raised.value.report == REPORT  # what the flow records the stopped run with
    assert exit_code(raised.value) is ExitCode.VALIDATION_FAILED


def test_one_line_drops_colors_arrows_and_rust_frames() -> None:
    message = "Generic S3 error\n  \x1b[31m↳\x1b[0m Error performing list request\n   0: <unknown>\n   1: x"
    assert one_line(OSError(message)) == "Generic S3 error Error performing list request"


# --- each code from the real command ---------------------------------------------------------


@pytest.mark.integration
def test_version_prints_the_installed_version(tmp_path: Path) -> None:
    from importlib.metadata import version

    result = stedi("--version", cwd=tmp_path)
    assert result.returncode == ExitCode.OK
    assert result.stdout == f"stedi {version('stedi-lakehouse')}\n"


@pytest.mark.integration
@pytest.mark.slow
def test_validation_failure_exits_1(tmp_path: Path, api_env: dict[str, str]) -> None:
    landing = small_landing(tmp_path / "landing")
    break_emails(landing)
    result = stedi(
        "run", "--landing", str(landing), "--lakehouse", str(tmp_path / "lake"), cwd=tmp_path, env=api_env
    )
    assert result.returncode == ExitCode.VALIDATION_FAILED, result.stderr
    line = only_error_line(result, "run")
    assert line.startswith("stedi run: customer_landing: expect_column_values_to_match_regex on email failed")
    assert not DeltaTable.is_deltatable(str(tmp_path / "lake" / "landing" / "customer_landing"))
    # the stopped run is in Data Docs, with the rule it broke and none of the broken addresses
    site = tmp_path / "lake" / "data_docs"
    (row,) = index_rows((site / "index.html").read_text(encoding="utf-8"))
    assert (row["run_name"], row["asset_name"], row["_validation_success_text"]) == (
        "strict-landing-failed",
        "customer_landing",
        "Failed",
    )
    assert "expect_column_values_to_match_regex on email (critical, " in row["batch_identifier"]
    emails = {
        json.loads(line)["email"]
        for f in landing.rglob("customer*.json")
        for line in f.read_text().splitlines()
    }
    for page in site.rglob("*.htm*"):
        assert not [e for e in emails if e in page.read_text(encoding="utf-8")], page


@pytest.mark.integration
def test_bad_input_exits_2(tmp_path: Path) -> None:
    (tmp_path / "landing").mkdir()
    result = stedi(
        "run", "--landing", str(tmp_path / "landing"), "--lakehouse", str(tmp_path / "lake"), cwd=tmp_path
    )
    assert result.returncode == ExitCode.BAD_INPUT
    assert "expected the layout <landing>/customer/landing/*.json" in only_error_line(result, "run")


@pytest.mark.integration
def test_usage_error_exits_2(tmp_path: Path) -> None:
    result = stedi("tables", "--lakehouse", str(tmp_path), "--no-such-option", cwd=tmp_path)
    assert result.returncode == ExitCode.BAD_INPUT
    assert "unrecognized arguments: --no-such-option" in result.stderr


@pytest.mark.integration
@pytest.mark.slow
def test_busy_lakehouse_exits_3(tmp_path: Path, api_env: dict[str, str]) -> None:
    from stedi.lease import lakehouse_lease

    landing, lake = small_landing(tmp_path / "landing", customers=5), tmp_path / "lake"
    with lakehouse_lease(str(lake), owner="the test holding the lakehouse"):
        result = stedi(
            "run",
            "--landing",
            str(landing),
            "--lakehouse",
            str(lake),
            "--wait",
            "0",
            cwd=tmp_path,
            env=api_env,
        )
    assert result.returncode == ExitCode.BUSY, result.stderr
    assert "the test holding the lakehouse" in only_error_line(result, "run")


@pytest.mark.integration
@pytest.mark.slow
def test_ctrl_c_exits_130(tmp_path: Path, api_env: dict[str, str]) -> None:
    """Ctrl-C signals the whole process group: the CLI, its validation process and its helpers."""
    landing = small_landing(tmp_path / "landing")
    with subprocess.Popen(
        [*COMMAND, "run", "--landing", str(landing), "--lakehouse", str(tmp_path / "lake")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=api_env,
        start_new_session=True,
    ) as process:
        assert process.stderr is not None
        lines: list[str] = []
        for line in process.stderr:  # wait until the flow is running
            lines.append(line)
            if "Beginning flow run" in line:
                break
        os.killpg(process.pid, signal.SIGINT)
        lines += process.stderr.readlines()
        assert process.wait(timeout=120) == ExitCode.INTERRUPTED, "".join(lines)
    message = "stedi run: interrupted; every table stays at its last committed version: rerun to finish\n"
    assert message in lines, "".join(lines)


@pytest.mark.integration
@pytest.mark.parametrize("command", ["tables", "run"])
def test_unreachable_storage_exits_4(tmp_path: Path, command: str) -> None:
    landing = small_landing(tmp_path / "landing", customers=5)
    args = ["--landing", str(landing)] if command == "run" else []
    result = stedi(command, *args, "--lakehouse", "s3://stedi-test/lake", cwd=tmp_path, env=unreachable_s3())
    assert result.returncode == ExitCode.STORAGE, result.stderr
    line = only_error_line(result, command)
    assert "storage error (OSError: " in line and "then retry" in line
    assert "test-secret" not in result.stderr


@pytest.fixture
def corrupt_lakehouse(tmp_path: Path) -> Path:
    """A lakehouse whose customer_curated log is not JSON: nothing the code foresees."""
    import pyarrow as pa

    from stedi.storage import Lake

    lake = Lake(str(tmp_path / "lake"), {})
    lake.write("customer_curated", pa.table({"id": [1]}), configuration={})
    log = Path(lake.uri("customer_curated")) / "_delta_log" / f"{0:020d}.json"
    log.write_text('{"add": broken\n')
    return tmp_path / "lake"


@pytest.mark.integration
def test_an_unforeseen_error_exits_70_with_one_line_and_a_traceback_only_with_debug(
    tmp_path: Path, corrupt_lakehouse: Path
) -> None:
    result = stedi("tables", "--lakehouse", str(corrupt_lakehouse), cwd=tmp_path)
    assert result.returncode == ExitCode.UNEXPECTED
    line = only_error_line(result, "tables")
    assert line.startswith("stedi tables: unexpected error (DeltaError: ")
    assert line.endswith("rerun with --debug for the traceback and report it")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    debug = stedi("tables", "--lakehouse", str(corrupt_lakehouse), "--debug", cwd=tmp_path)
    assert debug.returncode == ExitCode.UNEXPECTED
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1] == line
