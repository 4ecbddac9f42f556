"""The local S3-compatible server (moto_server) for tests: one bucket, and a boto3 client for it."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.services import free_port, start, stop, wait_http

BUCKET = "stedi"
KEY, SECRET = "testing-key-id", "testing-secret-not-real"


@contextmanager
def moto_server(log: Path, bucket: str = BUCKET) -> Iterator[str]:
    """`moto_server` on 127.0.0.1 with one empty bucket; yields its endpoint URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        os.environ,
        log,
    )
    try:
        wait_http(f"{url}/moto-api/", server, log, timeout=60)
        s3_client(url).create_bucket(Bucket=bucket)
        yield url
    finally:
        stop(server, signal.SIGTERM)


def s3_client(endpoint: str, key: str = KEY, secret: str = SECRET) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        region_name="us-east-1",
    )


def upload(local: Path, endpoint: str, prefix: str) -> None:
    s3 = s3_client(endpoint)
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        s3.upload_file(str(path), BUCKET, f"{prefix}/{path.relative_to(local).as_posix()}")
