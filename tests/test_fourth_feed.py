"""A fourth feed added by its spec, its suites and its rule alone, run end to end by the real flow."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from stedi.generate import GeneratorSpec, generate
from stedi.registry import REGISTRY, Layout, Subject, TableSpec, Zone
from stedi.rules import RuleResult
from stedi.rules.keys import normalise_email
from stedi.schemas import Feed
from stedi.storage import Lake

pytestmark = pytest.mark.slow

HEART_RATE = Feed(
    name="heart_rate",
    schema=pa.schema([("user", pa.string()), ("timestamp", pa.int64()), ("bpm", pa.int64())]),
    required=("user", "timestamp"),
    times=("timestamp",),
    reading_time="timestamp",
)


def heart_rate_trusted_day(inputs, day: date):  # type: ignore[no-untyped-def]
    """The toy rule: heart-rate readings of consenting customers (the audit is the table itself)."""
    readings = inputs.day("heart_rate_landing", day, HEART_RATE.schema.names)
    consenting = normalise_email(inputs.tables["customer_trusted"]["email"]).combine_chunks()
    kept = readings.filter(pc.is_in(normalise_email(readings["user"]), value_set=consenting))
    return RuleResult(kept, {"readings": readings.num_rows}), kept


def suite(path: Path, name: str, columns: list[str]) -> str:
    expectations = [
        {"type": "expect_table_columns_to_match_set", "kwargs": {"column_set": columns, "exact_match": True}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "timestamp"}},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "bpm", "min_value": 20}},
    ]
    target = path / f"{name}.json"
    target.write_text(json.dumps({"name": name, "expectations": expectations}))
    return str(target)


@pytest.fixture
def heart_rate(tmp_path: Path) -> Iterator[None]:
    landing = TableSpec(
        name="heart_rate_landing",
        zone=Zone.LANDING,
        schema=HEART_RATE.landing_schema,
        description="every accepted heart-rate reading",
        identity=("_record_id",),
        personal=("user", "_extra"),
        subject=("user", Subject.EMAIL),
        source_file="_source_file",
        layout=Layout(partition_by=HEART_RATE.partition_by),
        suite=suite(tmp_path, "heart_rate_landing", HEART_RATE.landing_schema.names),
        feed=HEART_RATE,
        time_column="timestamp",
    )
    trusted = TableSpec(
        name="heart_rate_trusted",
        zone=Zone.TRUSTED,
        schema=HEART_RATE.schema,
        description="heart-rate readings of consenting customers",
        personal=("user",),
        subject=("user", Subject.EMAIL),
        inputs=("heart_rate_landing", "customer_trusted"),
        suite=suite(tmp_path, "heart_rate_trusted", HEART_RATE.schema.names),
        rule=f"{__name__}:heart_rate_trusted_day",
        time_column="timestamp",
    )
    REGISTRY.register(landing, trusted)
    yield
    REGISTRY.unregister("heart_rate_trusted", "heart_rate_landing")


def test_a_fourth_feed_runs_end_to_end_from_its_spec(
    heart_rate: None, tmp_path: Path, prefect_harness: None
) -> None:
    from prefect.task_runners import ThreadPoolTaskRunner

    from flows.stedi_lakehouse import stedi_lakehouse

    landing = tmp_path / "landing"
    generate(landing, GeneratorSpec(customers=30, seed=3, files=1))
    source = next((landing / "customer" / "landing").glob("*.json"))
    customers = [json.loads(x) for x in source.read_text().splitlines()]
    rows = [
        {"user": c["email"], "timestamp": c["registrationDate"] + 1000 * k, "bpm": 60 + k}
        for c in customers
        for k in range(3)
    ]
    (landing / "heart_rate" / "landing").mkdir(parents=True)
    lines = "\n".join(json.dumps(r) for r in rows) + "\n"
    (landing / "heart_rate" / "landing" / "hr-1.json").write_text(lines)

    # The toy specs live in this process only: the units run in threads here, not in worker processes.
    in_process = stedi_lakehouse.with_options(task_runner=ThreadPoolTaskRunner(max_workers=1))
    summary = in_process(landing=str(landing), lakehouse=str(tmp_path / "lake"))

    lake = Lake(str(tmp_path / "lake"), {})
    assert lake.read("heart_rate_landing").num_rows == len(rows)
    trusted = lake.read("heart_rate_trusted")
    consenting = {r["email"].strip().lower() for r in lake.read("customer_trusted").to_pylist()}
    expected = sorted((r["user"], r["timestamp"]) for r in rows if r["user"].strip().lower() in consenting)
    assert sorted(zip(trusted["user"].to_pylist(), trusted["timestamp"].to_pylist(), strict=True)) == expected
    assert 0 < len(expected) < len(rows)
    step = summary.step("heart_rate_trusted")
    assert step is not None and step.counts["readings"] == len(rows)
    assert "heart_rate_landing" in REGISTRY.erasable and "heart_rate_trusted" in REGISTRY.build_order()
