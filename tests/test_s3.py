"""S3 landing and S3 lakehouse against a local S3-compatible server (moto) started by the test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from stedi.aws import describe, options_from_credentials, storage_options
from stedi.generate import GeneratorSpec, generate
from stedi.registry import REGISTRY
from stedi.storage import Lake
from tests.services import free_port, start, stop, wait_http

pytestmark = pytest.mark.integration

BUCKET = "stedi"
BLOCK = "stedi-test-s3"
KEY, SECRET = "testing-key-id", "testing-secret-not-real"


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`moto_server` on 127.0.0.1 with one empty bucket."""
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        os.environ,
        log,
    )
    try:
        wait_http(f"{url}/moto-api/", server, log, timeout=60)
        s3_client(url).create_bucket(Bucket=BUCKET)
        yield url
    finally:
        stop(server, signal.SIGTERM)


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


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
    )


def upload(local: Path, endpoint: str, prefix: str) -> None:
    s3 = s3_client(endpoint)
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        s3.upload_file(str(path), BUCKET, f"{prefix}/{path.relative_to(local).as_posix()}")


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

    options = storage_options(credentials_block) or {}
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
