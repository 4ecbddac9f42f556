"""Data Docs stores and site on s3://, against a local S3-compatible server (moto) started by the test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from stedi.data_docs import record_run
from stedi.gx_stores import site_url
from tests.data_docs_helpers import BAD_EMAILS, GOOD_EMAILS, broken_run_results, raw_gx_result
from tests.s3_server import KEY, SECRET, moto_server, s3_client

pytestmark = pytest.mark.integration

BUCKET = "stedi-docs"


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log", BUCKET) as url:
        yield url


def s3(endpoint: str) -> Any:
    return s3_client(endpoint)


def options(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ALLOW_HTTP": "true",
    }


def objects(endpoint: str, prefix: str) -> dict[str, bytes]:
    client = s3(endpoint)
    keys = [
        o["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        for o in page.get("Contents", [])
    ]
    return {k: client.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys}


def test_stores_and_site_on_s3_keep_every_run_and_no_offending_value(endpoint: str) -> None:
    lake = f"s3://{BUCKET}/lake"
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    first = record_run(lake, options(endpoint), "run-one", broken_run_results(), run_time=t0)
    second = record_run(
        lake,
        options(endpoint),
        "run-two",
        [raw_gx_result(BAD_EMAILS + GOOD_EMAILS)],
        run_time=t0 + timedelta(hours=1),
    )

    stored = objects(endpoint, "lake/_validation/")
    results = [json.loads(v) for k, v in stored.items() if "/validations/" in k and k.endswith(".json")]
    assert [
        r["meta"]["run_id"]["run_name"]
        for r in sorted(results, key=lambda r: r["meta"]["run_id"]["run_time"])
    ] == [
        "run-one",
        "run-two",
    ]
    assert any(k.startswith("lake/_validation/expectations/customer_landing/") for k in stored)

    site = objects(endpoint, "lake/data_docs/")
    for run in (first, second):
        assert f"lake/data_docs/{run.pages['customer_landing']}" in site
    index = site["lake/data_docs/index.html"].decode()
    assert index.find("/strict/run-two/") < index.find("/strict/run-one/") and "/strict/run-one/" in index
    assert "lake/data_docs/static/vendor/jquery/jquery.min.js" in site
    assert "lake/data_docs/static/styles/data_docs_default_styles.css" in site  # GX's own static files

    for key, body in {**stored, **site}.items():
        text = body.decode("utf-8", errors="replace")
        assert not [v for v in BAD_EMAILS + GOOD_EMAILS if v in text], key
        assert SECRET not in text and KEY not in text, key  # credentials never reach GX's files

    assert site_url(lake, options(endpoint)) == f"{endpoint}/{BUCKET}/lake/data_docs"
