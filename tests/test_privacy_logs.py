"""No personal value of the input reaches log records, Prefect artifacts, run names or parameters."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from pydantic import SecretStr

from stedi.generate import GeneratorSpec, generate
from tests.privacy_helpers import BASE, Subject, add_subject

pytestmark = pytest.mark.slow

PERSONAL = ("customerName", "email", "phone", "birthDay", "serialNumber", "user")


def personal_values(landing: Path) -> set[str]:
    """Every email, name, phone, birthday and serial in the landing files."""
    values: set[str] = set()
    for path in landing.rglob("*.json"):
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            values |= {
                str(record[k]).strip().lower() for k in PERSONAL if isinstance(record, dict) and record.get(k)
            }
    return values


class Capture(logging.Handler):
    """Every log record emitted while attached, whatever the logger's own handlers do."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def leaks(text: str, values: set[str]) -> list[str]:
    lowered = text.lower()
    return sorted(v for v in values if v in lowered)


def test_a_full_run_and_an_erasure_publish_no_personal_data(tmp_path: Path, prefect_harness: None) -> None:
    from prefect.client.orchestration import get_client
    from prefect.logging.handlers import APILogHandler

    from flows.erase_subjects import erase_subjects
    from flows.stedi_lakehouse import stedi_lakehouse

    landing, root = tmp_path / "landing", tmp_path / "lake"
    generate(landing, GeneratorSpec(customers=30, seed=21, files=2))
    subject = Subject(email="leak.check@privacy.test", name="Leak Check", phone="8015550000")
    add_subject(landing, subject, [BASE + 3_600_000 + 1_000 * i for i in range(5)])
    values = personal_values(landing)
    assert len(values) > 100 and subject.email in values

    capture = Capture()
    watched = [logging.getLogger(), logging.getLogger("prefect")]
    for logger in watched:
        logger.addHandler(capture)
    try:
        stedi_lakehouse(landing=str(landing), lakehouse=str(root))
        erase_subjects(lakehouse=str(root), emails=[SecretStr(subject.email)])
    finally:
        for logger in watched:
            logger.removeHandler(capture)
    for handler in logging.getLogger("prefect.task_runs").handlers:
        if isinstance(handler, APILogHandler):
            handler.flush()  # send the batched log records to the API before reading them back

    records = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in capture.records)
    assert "privacy report" in records and "erasure" in records  # the capture saw both flows
    assert leaks(records, values) == []

    with get_client(sync_client=True) as client:
        flow_runs = client.read_flow_runs()
        task_runs = client.read_task_runs()
        artifacts = client.read_artifacts()
        logs = client.read_logs()
    keys = {a.key for a in artifacts}
    assert {"stedi-run-report", "stedi-privacy-report", "stedi-erasure"} <= keys
    published = [
        *(f"{r.name} {json.dumps(r.parameters, default=str)}" for r in flow_runs),
        *(r.name for r in task_runs),
        *(f"{a.key} {a.description} {a.data}" for a in artifacts),
        *(log.message for log in logs),
    ]
    assert leaks("\n".join(published), values) == []
