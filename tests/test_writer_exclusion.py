"""Every writer holds the lakehouse: erasure during a running full refresh, the Prefect writer limit.

Writers run as the operator runs them: `stedi` subprocesses against a real Prefect server.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from stedi.config import subject_salt
from stedi.generate import GeneratorSpec, generate
from stedi.lease import LEASE_FILE
from stedi.lock import WRITER_LIMIT
from stedi.privacy.keys import keyed_hash
from stedi.registry import REGISTRY
from stedi.storage import Lake
from tests.conftest import REPO
from tests.expected import strict_counts
from tests.privacy_helpers import BASE, Subject, customer_record, files_containing, write_lines
from tests.services import prefect_server, start, stop, tail

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BIN = Path(sys.executable).parent
SUBJECTS = [
    Subject(
        name="Quentin Leaseholder",
        email="Q.Leaseholder@Erase-Early.test",
        phone="8017770001",
        serial="1ea5e000-aaaa-4000-8000-000000000001",
    ),
    Subject(
        name="Rosalind Tenancy",
        email="rosalind.tenancy@middle-of-build.test",
        phone="8017770002",
        serial="7e4a4c70-bbbb-4000-8000-000000000002",
    ),
    Subject(
        name="Ignatius Sublet",
        email="IGGY_SUBLET@late.erasure.test",
        phone="8017770003",
        serial="5b1e7000-cccc-4000-8000-000000000003",
    ),
]
NEEDLES = [n for s in SUBJECTS for n in s.needles()]


@dataclass
class Server:
    api: httpx.Client
    env: dict[str, str]
    logs: Path

    def stedi(self, log: Path, *args: str) -> subprocess.Popen[bytes]:
        """A `stedi` command against this server, its output in `log`."""
        return start([str(BIN / "stedi"), *args], self.env, log, REPO)

    def python(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`python ARGS` against this server, to completion."""
        return subprocess.run(
            [sys.executable, *args],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def limit(self) -> dict[str, object] | None:
        response = self.api.get(f"/v2/concurrency_limits/{WRITER_LIMIT}")
        return None if response.status_code == 404 else dict(response.raise_for_status().json())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`prefect server start` on 127.0.0.1 with a fresh home."""
    home = tmp_path_factory.mktemp("prefect-home")
    logs = home / "server.log"
    salt = os.environ["STEDI_SUBJECT_SALT"]
    with (
        prefect_server(home, logs, STEDI_SUBJECT_SALT=salt) as (api, env),
        httpx.Client(base_url=api, timeout=30) as client,
    ):
        yield Server(client, env, logs)


def add_subject_files(landing: Path, subject: Subject, index: int) -> None:
    times = [BASE + 3_600_000 + 1_000 * t for t in range(6)]
    write_lines(
        landing / "customer" / "landing" / f"customer-lease{index}.json",
        [customer_record(subject, BASE, BASE + 1)],
    )
    write_lines(
        landing / "accelerometer" / "landing" / f"accelerometer-lease{index}.json",
        [{"user": subject.email, "timestamp": t, "x": 1.0, "y": 0.5, "z": -1.0} for t in times],
    )
    write_lines(
        landing / "step_trainer" / "landing" / f"step_trainer-lease{index}.json",
        [{"sensorReadingTime": t, "serialNumber": subject.serial, "distanceFromObject": 222} for t in times],
    )


def traces(lake: Lake, needles: list[str]) -> set[tuple[str, str]]:
    """(table, needle) for every needle found in a string column of any table (case-insensitive)."""
    found = set()
    for table in REGISTRY.names():
        if not lake.exists(table):
            continue
        rows = lake.read(table)
        for column in (
            c for c, t in zip(rows.column_names, rows.schema.types, strict=True) if t == pa.string()
        ):
            values = pc.utf8_lower(rows[column])
            found |= {(table, n) for n in needles if pc.any(pc.match_substring(values, n.lower())).as_py()}
    return found


def lease_owner(lake: Path) -> str:
    try:
        return str(json.loads((lake / LEASE_FILE).read_text())["owner"])
    except (OSError, ValueError):
        return ""


def held(output: str) -> tuple[str, str]:
    """When a writer's log says it took the lease and when it let go (HH:MM:SS.mmm, the same clock)."""
    lines = output.splitlines()
    taken = [line[:12] for line in lines if "lakehouse lease of" in line and " taken by " in line]
    released = [line[:12] for line in lines if "lakehouse lease of" in line and " released by " in line]
    assert len(taken) == len(released) == 1, output[-3000:]
    return taken[0], released[0]


def wait_for(process: subprocess.Popen[bytes], log: Path, timeout: float = 600) -> str:
    try:
        process.wait(timeout=timeout)
    finally:
        stop(process, signal.SIGTERM)
    return log.read_text(errors="replace")


def test_erase_during_a_full_refresh_waits_and_leaves_no_trace_and_no_broken_table(
    server: Server, tmp_path: Path
) -> None:
    if server.limit() is not None:  # this test is about the lease alone
        server.api.delete(f"/v2/concurrency_limits/{WRITER_LIMIT}").raise_for_status()
    base, landing, root = tmp_path / "base", tmp_path / "landing", tmp_path / "lake"
    generate(base, GeneratorSpec(customers=3000, seed=11, files=4))
    shutil.copytree(base, landing)
    for i, subject in enumerate(SUBJECTS):
        add_subject_files(landing, subject, i)
    first = server.stedi(tmp_path / "first.log", "run", "--landing", str(landing), "--lakehouse", str(root))
    assert wait_for(first, tmp_path / "first.log") and first.returncode == 0, tail(tmp_path / "first.log")
    lake = Lake(str(root), {})
    before = traces(lake, NEEDLES)
    assert {n for _, n in before} == set(NEEDLES)
    assert {"customer_landing", "customer_trusted", "step_trainer_trusted"} <= {t for t, _ in before}
    ids = {keyed_hash(s.email, subject_salt(str(root)).value) for s in SUBJECTS}
    assert ids <= set(lake.read("machine_learning_curated", ["subject_id"])["subject_id"].to_pylist())

    refresh_log = tmp_path / "refresh.log"
    refresh = server.stedi(
        refresh_log,
        "run",
        "--landing",
        str(landing),
        "--lakehouse",
        str(root),
        "--full-refresh",
        "--wait",
        "60",
    )
    erases: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        deadline = time.monotonic() + 300
        while not lease_owner(root).startswith("stedi build"):
            assert refresh.poll() is None and time.monotonic() < deadline, tail(refresh_log)
            time.sleep(0.05)
        for i, subject in enumerate(SUBJECTS):  # the refresh is running: now, 1.5 s and 3 s into it
            assert refresh.poll() is None, "the full refresh ended too early: give it more data"
            log = tmp_path / f"erase{i}.log"
            erases.append(
                (
                    server.stedi(
                        log, "erase", "--lakehouse", str(root), "--email", subject.email, "--wait", "600"
                    ),
                    log,
                )
            )
            time.sleep(1.5)
    finally:
        outputs = [wait_for(process, log) for process, log in erases]
        refresh_output = wait_for(refresh, refresh_log)
    assert refresh.returncode == 0, refresh_output[-3000:]
    for (process, _), output in zip(erases, outputs, strict=True):
        assert process.returncode == 0, output[-3000:]
        assert "1 requested, 1 with data" in output, output[-3000:]
    # The first erase arrived while the refresh held the lakehouse, and said whom it waited for.
    assert f"lakehouse {root} is held by stedi build, flow run strict-landing-full-refresh" in outputs[0]
    holds = sorted(held(output) for output in (refresh_output, *outputs))
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(holds)), holds  # one at a time
    for output in (*outputs, refresh_output):
        assert not [s for s in SUBJECTS for n in s.needles() if n.lower() in output.lower()]

    assert traces(lake, NEEDLES) == set()
    assert files_containing(root, NEEDLES) == {}
    assert not ids & set(lake.read("machine_learning_curated", ["subject_id"])["subject_id"].to_pylist())
    for table in REGISTRY.names():
        if lake.exists(table):
            assert lake.read(table).num_rows == lake.count(table), table  # every file is there, every row
    expected = strict_counts(base)
    assert {t: lake.count(t) for t in expected} == expected

    after = server.stedi(
        tmp_path / "after.log", "run", "--landing", str(landing), "--lakehouse", str(root), "--always"
    )
    assert wait_for(after, tmp_path / "after.log") and after.returncode == 0, tail(tmp_path / "after.log")
    assert traces(lake, NEEDLES) == set()
    assert files_containing(root, NEEDLES) == {}


def test_flows_take_the_prefect_writer_limit_created_by_setup(server: Server, tmp_path: Path) -> None:
    setup = server.python("-m", "deployments.setup")
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert f"global concurrency limit {WRITER_LIMIT} ready" in setup.stdout
    limit = server.limit()
    assert limit is not None and limit["limit"] == 1 and limit["active_slots"] == 0
    try:
        landing, root = tmp_path / "landing", tmp_path / "lake"
        generate(landing, GeneratorSpec(customers=1000, seed=12, files=2))
        build_log = tmp_path / "build.log"
        build = server.stedi(build_log, "run", "--landing", str(landing), "--lakehouse", str(root))
        try:
            deadline = time.monotonic() + 300
            while (server.limit() or {}).get("active_slots") != 1:  # the build holds the writer slot
                assert build.poll() is None and time.monotonic() < deadline, tail(build_log)
                time.sleep(0.1)
        finally:
            build_output = wait_for(build, build_log)
        assert build.returncode == 0, build_output[-3000:]
        assert (server.limit() or {}).get("active_slots") == 0  # and gave it back

        # A writer on another worker holds the slot (the lease is free): maintenance queues, then gives up.
        from prefect.concurrency.sync import concurrency
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: server.env["PREFECT_API_URL"]}), concurrency(WRITER_LIMIT):
            maintenance = server.python("-m", "flows.maintenance", "--lakehouse", str(root), "--wait", "2")
        assert maintenance.returncode == 3, maintenance.stdout[-3000:] + maintenance.stderr[-3000:]
        assert f"another writer holds the Prefect concurrency limit {WRITER_LIMIT}" in maintenance.stderr
    finally:
        server.api.delete(f"/v2/concurrency_limits/{WRITER_LIMIT}").raise_for_status()


def test_wait_option_reaches_the_flows_and_busy_exits_3(server: Server, tmp_path: Path) -> None:
    from stedi.lease import lakehouse_lease

    landing, root = tmp_path / "landing", tmp_path / "lake"
    generate(landing, GeneratorSpec(customers=10, seed=13, files=1))
    commands = {
        "run": ("run", "--landing", str(landing), "--lakehouse", str(root), "--wait", "1"),
        "erase": ("erase", "--lakehouse", str(root), "--email", SUBJECTS[0].email, "--wait", "1"),
    }
    with lakehouse_lease(str(root), owner="a test holding the lakehouse"):
        for name, args in commands.items():
            log = tmp_path / f"{name}.log"
            started = time.monotonic()
            process = server.stedi(log, *args)
            output = wait_for(process, log, timeout=300)
            assert process.returncode == 3, output[-3000:]
            assert "lakehouse" in output and "is busy: a test holding the lakehouse" in output, output[-3000:]
            assert (
                time.monotonic() - started < 120
            )  # one second of waiting, not the flows' default ten minutes
            assert SUBJECTS[0].email.lower() not in output.lower()
