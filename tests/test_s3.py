"""S3 landing and S3 lakehouse against a local S3-compatible server (moto) started by the test."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from stedi.aws import describe, options_from_credentials, storage_options
from stedi.generate import GeneratorSpec, generate
from stedi.registry import REGISTRY
from stedi.storage import Lake
from tests.leases import most_holders_at_once
from tests.s3_server import BUCKET, KEY, SECRET, moto_server, s3_client, upload

pytestmark = pytest.mark.integration

BLOCK = "stedi-test-s3"


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as url:
        yield url


@pytest.fixture(scope="module")
def credentials_block(endpoint: str, prefect_harness: None) -> str:
    from prefect_aws import AwsClientParameters, AwsCredentials
    from pydantic import SecretStr

    AwsCredentials(
        aws_access_key_id=KEY,
        aws_secret_access_key=SecretStr(SECRET),
        region_name="us-east-1",
        aws_client_parameters=AwsClientParameters(endpoint_url=endpoint),
    ).save(BLOCK, overwrite=True)
    return BLOCK


VOLATILE = {"_ingested_at", "ingested_at", "run_id", "mtime_ns"}


def comparable(table: pa.Table) -> list[dict[str, object]]:
    """Rows without ingest times and run ids, in a stable order."""
    kept = table.drop_columns([c for c in table.column_names if c in VOLATILE])
    rows = kept.to_pylist()
    return sorted(rows, key=lambda r: tuple((v is None, str(v)) for v in r.values()))


def test_a_credentials_block_becomes_storage_options_without_leaking_them(endpoint: str) -> None:
    from prefect_aws import AwsClientParameters, AwsCredentials
    from pydantic import SecretStr

    block = AwsCredentials(
        aws_access_key_id=KEY,
        aws_secret_access_key=SecretStr(SECRET),
        region_name="eu-west-1",
        aws_client_parameters=AwsClientParameters(endpoint_url=endpoint),
    )
    options = options_from_credentials(block)
    assert options == {
        "AWS_ACCESS_KEY_ID": KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ALLOW_HTTP": "true",
    }
    text = describe(options)
    assert KEY not in text and SECRET not in text and endpoint in text
    assert storage_options("  ") is None  # a blank deployment parameter means: the AWS_* environment


def test_flow_on_s3_landing_and_lakehouse_matches_the_local_run(
    endpoint: str, credentials_block: str, tmp_path: Path
) -> None:
    from flows.stedi_lakehouse import stedi_lakehouse

    landing = tmp_path / "landing"
    generate(landing, GeneratorSpec(customers=40, seed=9, files=2))
    upload(landing, endpoint, "landing")
    remote = f"s3://{BUCKET}/lake"
    stedi_lakehouse(landing=f"s3://{BUCKET}/landing", lakehouse=remote, aws_credentials=credentials_block)
    stedi_lakehouse(landing=str(landing), lakehouse=str(tmp_path / "lake"))

    s3_lake = Lake(remote, storage_options(credentials_block) or {})
    local_lake = Lake(str(tmp_path / "lake"), {})
    for table in (t for t in REGISTRY.data_tables if t != "ingest_log"):  # the log records where files were
        assert comparable(s3_lake.read(table)) == comparable(local_lake.read(table)), table
    assert s3_lake.count("machine_learning_curated") > 0
    docs = s3_client(endpoint).get_object(Bucket=BUCKET, Key="lake/data_docs/index.html")
    assert b"customer_landing" in docs["Body"].read()  # Data Docs were built into the S3 lakehouse


def test_cli_reads_an_s3_lake_with_the_aws_environment(endpoint: str, credentials_block: str) -> None:
    env = os.environ | {
        "AWS_ACCESS_KEY_ID": KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ALLOW_HTTP": "true",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "stedi.cli",
            "query",
            "--lakehouse",
            f"s3://{BUCKET}/lake",
            "SELECT count(*) AS n FROM customer_curated",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = Lake(f"s3://{BUCKET}/lake", storage_options(credentials_block) or {}).count("customer_curated")
    assert result.stdout.splitlines()[2].strip() == str(rows)


def test_concurrent_writers_on_s3_lose_no_commit(endpoint: str, credentials_block: str) -> None:
    """Delta commits on S3 use conditional puts: racing appends all land, each as its own version."""
    from concurrent.futures import ThreadPoolExecutor

    from deltalake import DeltaTable, write_deltalake

    options = dict(storage_options(credentials_block) or {})
    uri = f"s3://{BUCKET}/concurrency/t"
    write_deltalake(uri, pa.table({"writer": pa.array([], pa.int64())}), storage_options=options)

    def append(writer: int) -> None:
        for _ in range(3):
            write_deltalake(uri, pa.table({"writer": [writer]}), mode="append", storage_options=options)

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(append, [1, 2]))
    dt = DeltaTable(uri, storage_options=options)
    assert dt.version() == 6
    added = dt.get_add_actions(flatten=True).column("num_records").to_pylist()
    assert sum(int(n) for n in added) == 6


LEASE_OPTIONS = {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_REGION": "us-east-1"}


def lease_options(endpoint: str) -> dict[str, str]:
    return LEASE_OPTIONS | {"AWS_ENDPOINT_URL": endpoint, "AWS_ALLOW_HTTP": "true"}


def test_s3_lease_admits_one_holder_and_is_gone_after_release(endpoint: str) -> None:
    from stedi.lease import LakehouseBusyError, current_holder, lakehouse_lease

    lake, options = f"s3://{BUCKET}/leased", lease_options(endpoint)
    with lakehouse_lease(lake, options, owner="first writer") as first:
        got = s3_client(endpoint).get_object(Bucket=BUCKET, Key="leased/_stedi.lease")
        record = json.loads(got["Body"].read())
        assert record["owner"] == "first writer" and record["ttl_seconds"] == 60 and record["expires"]
        assert current_holder(lake, options) == first
        with (
            pytest.raises(LakehouseBusyError, match=r"is busy: first writer \(host .*\) since "),
            lakehouse_lease(lake, options, owner="second writer", wait_seconds=0.5, poll=0.1),
        ):
            pass
    assert current_holder(lake, options) is None
    with lakehouse_lease(lake, options, owner="second writer", wait_seconds=0):
        pass


def test_s3_lease_heartbeat_keeps_a_live_holder_past_its_ttl(endpoint: str) -> None:
    from stedi.lease import LakehouseBusyError, lakehouse_lease

    lake, options = f"s3://{BUCKET}/heartbeat", lease_options(endpoint)
    with lakehouse_lease(lake, options, owner="long writer", ttl_seconds=2):
        time.sleep(4)  # two TTLs: only the heartbeat keeps the lease from expiring
        with (
            pytest.raises(LakehouseBusyError, match="long writer"),
            lakehouse_lease(lake, options, owner="impatient", wait_seconds=0.5, poll=0.1),
        ):
            pass


S3_HOLD = """
import json, sys, time
from stedi.lease import lakehouse_lease
with lakehouse_lease(sys.argv[1], json.loads(sys.argv[2]), owner="a killed writer", ttl_seconds=2):
    print("held", flush=True)
    time.sleep(120)
"""


def test_s3_lease_of_a_killed_holder_is_taken_over_after_its_ttl(
    endpoint: str, caplog: pytest.LogCaptureFixture
) -> None:
    from stedi.lease import LakehouseBusyError, lakehouse_lease

    lake, options = f"s3://{BUCKET}/takeover", lease_options(endpoint)
    command = [sys.executable, "-c", S3_HOLD, lake, json.dumps(options)]
    holder = subprocess.Popen(command, cwd=Path(__file__).parents[1], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()
    with (
        pytest.raises(LakehouseBusyError, match="a killed writer"),
        lakehouse_lease(lake, options, owner="too early", wait_seconds=0),
    ):
        pass
    caplog.set_level(logging.INFO, logger="stedi.lease")
    started = time.monotonic()
    with lakehouse_lease(lake, options, owner="successor", wait_seconds=15, poll=0.2):
        assert 0.5 < time.monotonic() - started < 10
        record = json.loads(
            s3_client(endpoint).get_object(Bucket=BUCKET, Key="takeover/_stedi.lease")["Body"].read()
        )
        assert record["owner"] == "successor"
    assert "took over the expired lease of a killed writer" in caplog.text
    assert "is held by a killed writer" in caplog.text


def test_s3_lease_writers_never_overlap(endpoint: str) -> None:
    from stedi.lease import lakehouse_lease

    lake, options = f"s3://{BUCKET}/overlap", lease_options(endpoint)
    assert most_holders_at_once(lambda: lakehouse_lease(lake, options, wait_seconds=60, poll=0.05)) == 1
