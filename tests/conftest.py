from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("STEDI_SUBJECT_SALT", "test-salt-not-secret")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

REPO = Path(__file__).resolve().parents[1]
UDACITY = Path(os.environ.get("STEDI_UDACITY_DATA", REPO.parent / "shared" / "data" / "udacity"))


@pytest.fixture(scope="session")
def udacity_root() -> Path:
    assert (UDACITY / "customer" / "landing").is_dir(), (
        f"course data not found at {UDACITY}: set STEDI_UDACITY_DATA to the folder of the course landing data"
    )
    return UDACITY


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
