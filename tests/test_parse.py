"""Every landing-file quirk: good lines load, bad ones are quarantined with a reason, nothing is lost."""

from __future__ import annotations

import gzip
import json

import pytest

from stedi.ingest.parse import parse_file
from stedi.schemas import ACCELEROMETER, CUSTOMER, STEP_TRAINER

T = 1_655_564_444_103
GOOD = {"user": "a@b.test", "timestamp": T, "x": 1.0, "y": -1.0, "z": 0.0}


def line(**changes: object) -> bytes:
    return json.dumps({**GOOD, **changes}).encode()


def test_clean_ndjson_takes_the_fast_path() -> None:
    parsed = parse_file(ACCELEROMETER, line() + b"\n" + line(timestamp=T + 1) + b"\n", "f.json")
    assert parsed.fast_path
    assert parsed.rows.column("timestamp").to_pylist() == [T, T + 1]
    assert parsed.quarantined == []


def test_trailing_commas_are_tolerated() -> None:
    parsed = parse_file(ACCELEROMETER, line() + b",\n" + line(timestamp=T + 1) + b",\n", "f.json")
    assert parsed.rows.num_rows == 2
    assert parsed.quarantined == []


def test_crlf_line_ends() -> None:
    parsed = parse_file(ACCELEROMETER, line() + b"\r\n" + line() + b"\r\n", "f.json")
    assert parsed.rows.num_rows == 2


def test_utf8_bom_is_ignored() -> None:
    parsed = parse_file(ACCELEROMETER, b"\xef\xbb\xbf" + line() + b"\n", "f.json")
    assert parsed.rows.column("user").to_pylist() == ["a@b.test"]


@pytest.mark.parametrize("data", [b"", b"   \n\n \r\n"])
def test_empty_and_blank_files_have_no_rows(data: bytes) -> None:
    parsed = parse_file(ACCELEROMETER, data, "f.json")
    assert parsed.rows.num_rows == 0
    assert parsed.quarantined == []


def test_json_array_file() -> None:
    data = json.dumps([GOOD, {**GOOD, "timestamp": T + 5}, 7]).encode()
    parsed = parse_file(ACCELEROMETER, data, "f.json")
    assert parsed.rows.column("timestamp").to_pylist() == [T, T + 5]
    assert [(q.line_number, q.reason_code) for q in parsed.quarantined] == [(3, "not_an_object")]


def test_key_casing_variant_maps_to_the_field() -> None:
    parsed = parse_file(
        ACCELEROMETER, json.dumps({"user": "a@b.test", "timeStamp": T, "x": 1}).encode(), "f.json"
    )
    assert parsed.rows.column("timestamp").to_pylist() == [T]
    assert parsed.rows.column("_extra").to_pylist() == [None]


def test_absent_optional_keys_become_null() -> None:
    parsed = parse_file(CUSTOMER, b'{"email": "a@b.test", "lastUpdateDate": 1655564376361}\n', "c.json")
    row = parsed.rows.to_pylist()[0]
    assert row["email"] == "a@b.test"
    assert row["shareWithResearchAsOfDate"] is None


def test_unknown_keys_are_kept_in_extra() -> None:
    parsed = parse_file(ACCELEROMETER, line(device="phone") + b"\n", "f.json")
    assert json.loads(parsed.rows.column("_extra")[0].as_py()) == {"device": "phone"}


def test_bad_lines_are_quarantined_and_good_lines_of_the_file_still_load() -> None:
    data = b"\n".join(
        [
            line(),
            b"not json at all",
            b"[1, 2]",
            line(x="abc"),
            line(timestamp=str(T)),
            json.dumps({"timestamp": T, "x": 1.0}).encode(),
            line(user=None),
            line(timestamp=T // 1000),
            b'{"user": "\xff\xfe@b.test", "timestamp": 1655564444103}',
            line(timestamp=T + 9),
            b'{"user": "a@b.test", "timest',
        ]
    )
    parsed = parse_file(ACCELEROMETER, data, "f.json")
    assert parsed.rows.column("timestamp").to_pylist() == [T, T + 9]
    assert [(q.line_number, q.reason_code) for q in parsed.quarantined] == [
        (2, "invalid_json"),
        (3, "not_an_object"),
        (4, "wrong_type"),
        (5, "wrong_type"),
        (6, "missing_required"),
        (7, "missing_required"),
        (8, "implausible_time"),
        (9, "invalid_utf8"),
        (11, "invalid_json"),
    ]
    assert parsed.quarantined[0].raw_line == "not json at all"
    assert "seconds" in parsed.quarantined[6].reason


def test_step_trainer_requires_serial_and_time() -> None:
    data = b'{"sensorReadingTime": 1655564444103, "distanceFromObject": 218}\n'
    parsed = parse_file(STEP_TRAINER, data, "s.json")
    assert [q.reason_code for q in parsed.quarantined] == ["missing_required"]


def test_gzip_files_are_decompressed() -> None:
    parsed = parse_file(ACCELEROMETER, gzip.compress(line() + b"\n"), "f.json.gz")
    assert parsed.rows.num_rows == 1


def test_integral_float_time_is_accepted_but_fraction_is_not() -> None:
    parsed = parse_file(ACCELEROMETER, line(timestamp=float(T)) + b"\n" + line(timestamp=T + 0.5), "f.json")
    assert parsed.rows.column("timestamp").to_pylist() == [T]
    assert [q.reason_code for q in parsed.quarantined] == ["wrong_type"]


CUSTOMER_RECORD = {"email": "a@b.test", "lastUpdateDate": T, "shareWithResearchAsOfDate": T}


@pytest.mark.parametrize("revocation", [0, "", "null", " NULL ", False])
def test_a_revocation_written_as_zero_empty_null_or_false_is_a_revocation(revocation: object) -> None:
    data = json.dumps({**CUSTOMER_RECORD, "shareWithResearchAsOfDate": revocation}).encode() + b"\n"
    parsed = parse_file(CUSTOMER, data, "f.json")
    assert parsed.quarantined == []
    assert parsed.rows.column("shareWithResearchAsOfDate").to_pylist() == [None]
    assert parsed.rows.column("lastUpdateDate").to_pylist() == [T]


def test_zero_in_a_time_field_that_is_not_a_consent_stays_quarantined() -> None:
    data = json.dumps({**CUSTOMER_RECORD, "lastUpdateDate": 0}).encode() + b"\n"
    assert [q.reason_code for q in parse_file(CUSTOMER, data, "f.json").quarantined] == ["implausible_time"]


def test_duplicate_keys_in_one_record_are_quarantined_with_their_own_reason() -> None:
    dupe = (
        b'{"email": "a@b.test", "shareWithResearchAsOfDate": 1655564444103, "shareWithResearchAsOfDate": 0}'
    )
    data = json.dumps(CUSTOMER_RECORD).encode() + b"\n" + dupe + b"\n"
    parsed = parse_file(CUSTOMER, data, "f.json")
    assert parsed.rows.num_rows == 1
    assert [(q.line_number, q.reason_code, q.raw_line) for q in parsed.quarantined] == [
        (2, "duplicate_keys", dupe.decode())
    ]


def test_duplicate_keys_in_a_json_array_file_are_quarantined() -> None:
    data = b'[{"user": "a@b.test", "timestamp": 1655564444103, "user": "c@d.test"}, ' + line() + b"]"
    parsed = parse_file(ACCELEROMETER, data, "f.json")
    assert parsed.rows.num_rows == 1
    assert [q.reason_code for q in parsed.quarantined] == ["duplicate_keys"]


def test_a_duplicate_key_is_found_whatever_the_spacing() -> None:
    data = b'{"user" :"a@b.test", "timestamp": 1655564444103, "x": 1.0, "x": 2.0}\n'
    assert [q.reason_code for q in parse_file(ACCELEROMETER, data, "f.json").quarantined] == [
        "duplicate_keys"
    ]
