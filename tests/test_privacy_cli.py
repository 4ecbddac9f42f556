"""`stedi erase` and `stedi privacy-report` as a user runs them, in real subprocesses."""

from __future__ import annotations

from pathlib import Path

import pytest

from stedi.generate import GeneratorSpec, generate
from tests.privacy_helpers import BASE, Subject, add_subject, files_containing
from tests.test_cli import stedi

pytestmark = pytest.mark.integration


def test_erase_queue_and_privacy_report(tmp_path: Path) -> None:
    landing, lake = tmp_path / "landing", str(tmp_path / "lake")
    generate(landing, GeneratorSpec(customers=20, seed=4, files=1))
    one, two = (
        Subject(),
        Subject(
            name="Queued Person",
            email="queued@privacy.test",
            phone="8015550999",
            serial="0badc0de-0000-4000-8000-000000000002",
        ),
    )
    add_subject(landing, one, [BASE + 3_600_000 + 1_000 * i for i in range(4)])
    assert stedi("run", "--landing", str(landing), "--lakehouse", lake, cwd=tmp_path).returncode == 0

    erased = stedi(
        "erase",
        "--lakehouse",
        lake,
        "--email",
        one.email,
        "--include-raw",
        "--landing",
        str(landing),
        cwd=tmp_path,
    )
    assert erased.returncode == 0, erased.stderr
    assert "1 requested, 1 with data" in erased.stdout
    assert one.email.lower() not in (erased.stdout + erased.stderr).lower()
    assert files_containing(tmp_path, one.needles()) == {}

    queued = stedi("erase", "--lakehouse", lake, "--email", two.email, "--queue", cwd=tmp_path)
    assert (queued.returncode, queued.stdout.strip()) == (0, "queued 1 erasure request(s)")
    report = stedi("privacy-report", "--lakehouse", lake, cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert "subjects erased, all time 1" in report.stdout
    assert "-> customers 20 ->" in report.stdout  # the 20 generated customers; the erased one is gone

    refused = stedi("erase", "--lakehouse", lake, "--email", "not-an-address", cwd=tmp_path)
    assert refused.returncode == 2 and "is not an email address" in refused.stderr  # bad input
