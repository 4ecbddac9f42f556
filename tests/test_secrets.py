"""No storage option, key or salt in a repr, a log line, an artifact or a Prefect parameter;
credentials of a block are refreshed, not frozen when the flow starts."""

from __future__ import annotations

import json
import logging
import pickle
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from stedi.aws import storage_options
from stedi.config import RunConfig
from stedi.credentials import StorageCredentials
from stedi.generate import GeneratorSpec, generate
from stedi.privacy.keys import salt_fingerprint
from stedi.storage import Lake
from tests.s3_server import BUCKET, moto_server, upload

ACCESS_KEY = "AKIASTEDILEAKPROBE42"
SECRET_KEY = "Leak-Probe-Secret-9f3c2e71b8d4a6"
SALT = "Leak-Probe-Salt-5e8a0c13d7"
NEEDLES = (ACCESS_KEY, SECRET_KEY, SALT)
ERASED = "Leak.Probe.Subject@example.test"


def test_config_and_lake_never_show_their_storage_options() -> None:
    options = {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_REGION": "eu-west-1",
    }
    config = RunConfig.build("s3://b/landing", "s3://b/lake", storage_options=options)
    env_config = RunConfig.build("s3://b/landing", "s3://b/lake", env=options)
    lakes = [Lake.of(config), Lake("s3://b/lake", options), Lake.of(env_config)]
    shown = [repr(config), str(config), repr(env_config), *map(repr, lakes), *map(str, lakes)]
    shown += [repr(config.storage_options), f"{config.storage_options}", f"{lakes[1].storage_options!r}"]
    assert not [text for text in shown for needle in NEEDLES if needle in text]
    assert "StorageCredentials(from the AWS_* environment)" in repr(env_config.storage_options)
    # Callers keep their attribute access: values on demand, a fresh dict each time.
    assert config.storage_options["AWS_SECRET_ACCESS_KEY"] == SECRET_KEY
    assert lakes[1].options == options and lakes[1].options is not lakes[1].options
    assert dict(env_config.storage_options) == options
    copy = pickle.loads(pickle.dumps(lakes[0]))  # what a process pool or a Dask worker receives
    assert copy.options == options and SECRET_KEY not in repr(copy)


ROTATING = """
import json, pathlib, sys, datetime
counter = pathlib.Path(sys.argv[1])
n = int(counter.read_text()) + 1 if counter.exists() else 1
counter.write_text(str(n))
expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)
print(json.dumps({"Version": 1, "AccessKeyId": f"ROTATING{n:04d}", "SecretAccessKey": f"rotating-secret-{n}",
                  "SessionToken": f"token-{n}", "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}))
"""


@pytest.fixture
def rotating_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An AWS profile whose credential process hands out new short-lived keys on every refresh."""
    script = tmp_path / "rotate.py"
    script.write_text(ROTATING)
    config = tmp_path / "aws-config"
    config.write_text(
        f"[profile rotating]\ncredential_process = {sys.executable} {script} {tmp_path / 'n'}\n"
    )
    config.chmod(stat.S_IRUSR | stat.S_IWUSR)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return "rotating"


def test_block_credentials_are_refreshed_not_frozen_at_flow_start(rotating_profile: str) -> None:
    from prefect_aws import AwsCredentials

    options = storage_options(AwsCredentials(profile_name=rotating_profile, region_name="us-east-1"))
    assert isinstance(options, StorageCredentials)
    first = dict(options)
    time.sleep(1.2)  # one resolution is reused for a second only
    second = dict(options)
    assert first["AWS_ACCESS_KEY_ID"].startswith("ROTATING") and first["AWS_SESSION_TOKEN"]
    assert second["AWS_ACCESS_KEY_ID"] != first["AWS_ACCESS_KEY_ID"]
    assert second["AWS_SECRET_ACCESS_KEY"] == "rotating-secret-" + second["AWS_ACCESS_KEY_ID"][-4:].lstrip(
        "0"
    )
    assert "ROTATING" not in repr(options) and "rotating-secret" not in repr(options)


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as url:
        yield url


def prefect_records(flow_run_ids: list[str]) -> str:
    """Everything the Prefect API holds about these flow runs, as JSON text."""
    from prefect.client.orchestration import get_client

    ids = {"any_": flow_run_ids}
    found: list[Any] = []
    with get_client(sync_client=True) as client:

        def post(path: str, body: dict[str, Any]) -> list[Any]:
            return list(client.request("POST", path, json=body).json())  # type: ignore[arg-type]

        found += post("/flow_runs/filter", {"flow_runs": {"id": ids}})
        found += post("/task_runs/filter", {"flow_runs": {"id": ids}})
        found += post("/artifacts/filter", {"flow_runs": {"id": ids}})
        offset = 0
        while page := post("/logs/filter", {"logs": {"flow_run_id": ids}, "limit": 200, "offset": offset}):
            found += page
            offset += len(page)
    return json.dumps(found)


@pytest.mark.integration
@pytest.mark.slow
def test_no_credential_or_salt_in_logs_artifacts_or_parameters_of_s3_runs(
    endpoint: str,
    prefect_harness: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from prefect_aws import AwsClientParameters, AwsCredentials

    from flows.erase_subjects import erase_subjects
    from flows.maintenance import stedi_maintenance
    from flows.stedi_lakehouse import stedi_lakehouse

    monkeypatch.setenv("STEDI_SUBJECT_SALT", SALT)
    # Everything at INFO, ours and Prefect's at DEBUG. (botocore's own DEBUG lines carry the signed
    # Authorization header, access key id included: never run botocore at DEBUG in production.)
    caplog.set_level(logging.INFO)
    for name in ("stedi", "prefect", "flows", "tasks"):
        caplog.set_level(logging.DEBUG, logger=name)
    AwsCredentials(
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SecretStr(SECRET_KEY),
        region_name="us-east-1",
        aws_client_parameters=AwsClientParameters(endpoint_url=endpoint),
    ).save("stedi-leak-probe", overwrite=True)
    landing = tmp_path / "landing"
    generate(landing, GeneratorSpec(customers=30, seed=4, files=1))
    upload(landing, endpoint, "probe/landing")
    lake = f"s3://{BUCKET}/probe/lake"
    block = {"aws_credentials": "stedi-leak-probe"}
    states = [
        stedi_lakehouse(landing=f"s3://{BUCKET}/probe/landing", lakehouse=lake, **block, return_state=True),
        erase_subjects(lakehouse=lake, emails=[SecretStr(ERASED)], **block, return_state=True),
        stedi_maintenance(lakehouse=lake, retention_hours=0, **block, return_state=True),
    ]
    assert [s.type.value for s in states] == ["COMPLETED"] * 3, [s.message for s in states]
    records = prefect_records([str(s.state_details.flow_run_id) for s in states])
    console = capfd.readouterr()
    logged = caplog.text + console.out + console.err

    assert "stedi-leak-probe" in records  # the parameters were read back: the block's name only
    erasures = Lake(lake, storage_options("stedi-leak-probe") or {}).read("erasure_log")
    assert set(erasures["salt_fingerprint"].to_pylist()) == {salt_fingerprint(SALT.encode())}  # salt in use
    assert "storage options from AwsCredentials block stedi-leak-probe" in logged
    assert '"type": "markdown"' in records and "run complete" in records  # artifacts and logs are there
    for needle in (*NEEDLES, ERASED, ERASED.lower()):
        assert needle not in records, f"{needle} in the Prefect API's records"
        assert needle not in logged, f"{needle} in a log line"
