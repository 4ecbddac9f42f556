"""Validating a stream piece by piece gives the verdicts of one whole-table run, and aborts a write."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from stedi import validation_pool
from stedi.errors import ValidationFailedError
from stedi.policy import Policy
from stedi.storage import Lake
from stedi.stream_validation import StreamValidator
from stedi.validation import validate
from tests.test_validation_batches import C, frame, landing_frame, verdicts


def pieces(table: pa.Table, size: int) -> list[pa.Table]:
    return [table.slice(s, size) for s in range(0, table.num_rows, size)]


def test_a_stream_in_pieces_matches_one_whole_table_run() -> None:
    # One malformed user in 30 is within the `mostly` threshold of its rule.
    data = landing_frame(["a@x.t"] * 28 + ["broken", "a@x.t"])
    whole = validate("accelerometer_landing", data, Policy.STRICT)
    stream = StreamValidator("accelerometer_landing", Policy.STRICT, buffer_rows=4)
    for piece in pieces(data, 3):
        stream.add(piece)
    streamed = stream.finish()
    assert verdicts(streamed.outcomes) == verdicts(whole.outcomes)
    assert streamed.rows == 30
    regex = [o for o in streamed.outcomes if o.expectation == "expect_column_values_to_match_regex"]
    assert [(o.success, o.unexpected) for o in regex] == [(True, 1)]


def test_a_blocking_failure_raises_at_the_buffer_that_holds_it() -> None:
    data = frame(["a@x.t"] * 8 + ["stranger@x.t"], [C] * 9)
    stream = StreamValidator("accelerometer_trusted", Policy.STRICT, buffer_rows=4)
    stream.add(data.slice(0, 4))  # clean buffer
    with pytest.raises(ValidationFailedError, match="accelerometer_trusted") as raised:
        stream.add(data.slice(4))
        stream.finish()
    report = raised.value.report  # every row-wise check so far, for the stopped run's record
    assert report is not None and report.rows == 9
    assert [(o.column, o.unexpected) for o in report.blocking_failures] == [("_consent_at", 1)]
    assert len(report.outcomes) == 4 and sum(o.success for o in report.outcomes) == 3


def test_mostly_rules_see_a_uniform_sample_of_a_long_stream() -> None:
    data = landing_frame(["a@x.t"] * 200 + ["broken"] * 200)
    stream = StreamValidator("accelerometer_landing", Policy.STRICT, sample_rows=50, seed=3)
    for piece in pieces(data, 40):
        stream.add(piece)
    report = stream.finish()
    (regex,) = [o for o in report.outcomes if o.expectation == "expect_column_values_to_match_regex"]
    assert not regex.success
    assert regex.sampled_rows == 50
    assert 10 <= (regex.unexpected or 0) <= 40  # about half of the sample, from both halves of the stream


def test_an_empty_stream_is_checked_against_the_schema() -> None:
    empty = landing_frame([])
    report = StreamValidator("accelerometer_landing", Policy.STRICT, schema=empty.schema).finish()
    assert verdicts(report.outcomes) == verdicts(
        validate("accelerometer_landing", empty, Policy.STRICT).outcomes
    )
    assert [o.expectation for o in report.blocking_failures] == ["expect_table_columns_to_match_set"]
    assert report.rows == 0


def test_a_failed_stream_leaves_the_previous_version(tmp_path: Path, prefect_harness: None) -> None:
    from prefect import flow

    from tasks.publish import publish_stream

    lake = Lake(str(tmp_path), {})
    good = frame(["a@x.t"] * 3, [C] * 3)
    bad = frame(["a@x.t", "stranger@x.t"], [C, C])
    schema = good.select(["user", "timestamp", "x", "y", "z"]).schema

    def chunks(*tables: pa.Table) -> list[tuple[pa.Table, pa.Table]]:
        return [(t.select(schema.names), t) for t in tables]

    @flow
    def write(*tables: pa.Table) -> int:
        report = publish_stream(lake, "accelerometer_trusted", chunks(*tables), schema, Policy.STRICT)
        return report.rows

    assert write(good, good) == 6
    version = lake.version("accelerometer_trusted")
    with pytest.raises(ValidationFailedError):
        write(good, bad)
    assert lake.version("accelerometer_trusted") == version
    assert lake.count("accelerometer_trusted") == 6


@pytest.fixture
def validation_process() -> Iterator[None]:
    validation_pool.start()
    yield
    validation_pool.stop()


def test_the_validation_process_gives_the_same_verdicts(validation_process: None) -> None:
    data = landing_frame(["a@x.t"] * 28 + ["broken", "a@x.t"])
    stream = StreamValidator("accelerometer_landing", Policy.STRICT, buffer_rows=4)
    for piece in pieces(data, 3):
        stream.add(piece)
    report = stream.finish()
    in_process = validate("accelerometer_landing", data, Policy.STRICT)
    assert verdicts(report.outcomes) == verdicts(in_process.outcomes)
    assert validation_pool.submit(int) is not None  # the parts really went to the process


def test_a_blocking_failure_found_in_the_validation_process_raises(validation_process: None) -> None:
    data = frame(["a@x.t"] * 8 + ["stranger@x.t"], [C] * 9)
    stream = StreamValidator("accelerometer_trusted", Policy.STRICT, buffer_rows=4)
    with pytest.raises(ValidationFailedError, match="belongs to a customer_trusted owner"):
        for piece in pieces(data, 4):
            stream.add(piece)
        stream.finish()
