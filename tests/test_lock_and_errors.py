"""Clear errors instead of tracebacks: busy lakehouse, unusable lakehouse, foreign table schema."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from stedi.errors import InputError, SchemaConflictError
from stedi.lease import LEASE_FILE, current_holder, lakehouse_lease
from stedi.lock import LakehouseBusyError, lakehouse_lock
from stedi.policy import Policy
from stedi.storage import Lake
from tests.conftest import REPO
from tests.leases import most_holders_at_once


def test_second_holder_waits_then_gives_a_clear_message(tmp_path: Path) -> None:
    busy = pytest.raises(
        LakehouseBusyError, match=rf"is busy: stedi build \(host .*, pid {os.getpid()}\) since "
    )
    with lakehouse_lock(str(tmp_path)), busy, lakehouse_lock(str(tmp_path), wait_seconds=0.2, poll=0.05):
        pass
    with lakehouse_lock(str(tmp_path), wait_seconds=0):
        pass  # released when the first holder left


def test_local_lease_record_names_the_holder_and_goes_with_it(tmp_path: Path) -> None:
    with lakehouse_lease(str(tmp_path), owner="stedi erase") as held:
        record = json.loads((tmp_path / LEASE_FILE).read_text())
        assert record["owner"] == "stedi erase" and record["pid"] == os.getpid()
        assert record["started"].endswith("Z") and record["expires"] is None  # the kernel lock ends with us
        assert current_holder(str(tmp_path)) == held
    assert not (tmp_path / LEASE_FILE).exists()
    assert current_holder(str(tmp_path)) is None


def test_a_waiting_writer_logs_who_holds_the_lakehouse(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="stedi.lease")
    entered = threading.Event()

    def second() -> None:
        entered.wait()
        with lakehouse_lock(str(tmp_path), purpose="stedi maintenance", wait_seconds=10, poll=0.05):
            pass

    waiter = threading.Thread(target=second)
    waiter.start()
    with lakehouse_lock(str(tmp_path), purpose="stedi build"):
        entered.set()
        time.sleep(0.5)
    waiter.join()
    waiting = [r.getMessage() for r in caplog.records if "waiting up to" in r.getMessage()]
    assert len(waiting) == 1, caplog.text
    assert f"is held by stedi build (host {os.uname().nodename}, pid {os.getpid()}) since 20" in waiting[0]


def test_writers_never_overlap(tmp_path: Path) -> None:
    assert (
        most_holders_at_once(lambda: lakehouse_lock(str(tmp_path), wait_seconds=30, poll=0.01), rounds=5) == 1
    )


@contextmanager
def held_elsewhere(lakehouse: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process that holds the lakehouse lease until it is killed."""
    command = [sys.executable, "-c", HOLD, str(lakehouse)]
    holder = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()


HOLD = """
import sys, time
from stedi.lease import lakehouse_lease
with lakehouse_lease(sys.argv[1], owner="a killed writer"):
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.mark.integration
def test_a_killed_holder_frees_the_lakehouse_at_once(tmp_path: Path) -> None:
    with (
        held_elsewhere(tmp_path),
        pytest.raises(LakehouseBusyError, match="a killed writer"),
        lakehouse_lease(str(tmp_path), wait_seconds=0),
    ):
        pass
    stale = current_holder(str(tmp_path))  # the record outlives its killed holder, the kernel lock does not
    assert stale is not None and stale.owner == "a killed writer"
    with lakehouse_lease(str(tmp_path), owner="next", wait_seconds=0) as record:
        assert current_holder(str(tmp_path)) == record


@pytest.mark.integration
def test_cli_writer_exits_busy_with_the_holder_named(tmp_path: Path) -> None:
    with held_elsewhere(tmp_path / "lake"):
        erase = ["erase", "--lakehouse", str(tmp_path / "lake"), "--queue", "--email", "someone@example.test"]
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "stedi.cli", *erase, "--wait", "1"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 3  # "busy": a scheduler retries later
    assert time.monotonic() - started < 60
    assert "is busy: a killed writer (host" in result.stderr and "--wait SECONDS" in result.stderr
    assert "someone@example.test" not in result.stderr + result.stdout


def test_lakehouse_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "lake").write_text("not a folder")
    with pytest.raises(InputError, match="cannot use lakehouse"), lakehouse_lock(str(tmp_path / "lake")):
        pass


def test_table_with_a_foreign_schema_is_a_clear_error(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path), {})
    write_deltalake(lake.uri("customer_trusted"), pa.table({"id": [1, 2]}))
    with pytest.raises(SchemaConflictError, match="has a schema this pipeline cannot write"):
        lake.write("customer_trusted", pa.table({"email": ["a@x.t"]}), mode="append")


def test_unknown_policy_names_the_choices() -> None:
    with pytest.raises(InputError, match="choose one of strict, udacity"):
        Policy.parse("lenient")
