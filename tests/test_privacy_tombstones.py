"""Tombstones drop erased subjects' rows at ingest; keys are keyed hashes, never plaintext."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from stedi.privacy.keys import EMAIL, SERIAL, keyed_hash, keyed_hashes
from stedi.privacy.tombstones import Tombstones, drop_erased, drop_erased_lines, tombstone_rows
from stedi.schemas import ACCELEROMETER, CUSTOMER, QUARANTINE_SCHEMA, STEP_TRAINER
from tests.tables import customers, readings, steps

SALT = b"unit-salt"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
ANN = "ann@x.test"
DEVICE = "aaaaaaaa-0000-4000-8000-000000000001"


def tombstones(salt: bytes = SALT) -> Tombstones:
    subject = keyed_hash(ANN, salt)
    return Tombstones(
        tombstone_rows({subject: subject}, {keyed_hash(DEVICE, salt, SERIAL): subject}, salt, NOW)
    )


def test_email_hash_is_the_subject_id_and_serials_are_domain_separated() -> None:
    from stedi.subject import subject_id

    assert keyed_hash(" Ann@X.test ", SALT) == subject_id(ANN, SALT)
    assert keyed_hash(ANN, SALT, SERIAL) != keyed_hash(ANN, SALT, EMAIL)
    assert keyed_hashes(pa.array([ANN, None, "ANN@x.test"]), SALT).to_pylist() == [
        keyed_hash(ANN, SALT),
        None,
        keyed_hash(ANN, SALT),
    ]


def test_tombstones_hold_no_plaintext() -> None:
    text = str(tombstones().table.to_pylist())
    assert "ann" not in text and DEVICE not in text


def test_readings_of_an_erased_user_are_dropped_whatever_the_casing() -> None:
    rows = readings(("ANN@x.test ", 1), ("bob@x.test", 2), (ANN, 3))
    kept, dropped = drop_erased(ACCELEROMETER, rows, tombstones(), SALT)
    assert dropped == 2
    assert kept["user"].to_pylist() == ["bob@x.test"]


def test_customer_records_and_device_readings_of_an_erased_subject_are_dropped() -> None:
    records = customers({"email": ANN, "serialNumber": DEVICE}, {"email": "bob@x.test", "serialNumber": "b"})
    kept, dropped = drop_erased(CUSTOMER, records, tombstones(), SALT)
    assert (kept["email"].to_pylist(), dropped) == (["bob@x.test"], 1)
    kept, dropped = drop_erased(STEP_TRAINER, steps((DEVICE.upper(), 1), ("b", 2)), tombstones(), SALT)
    assert (kept["serialNumber"].to_pylist(), dropped) == (["b"], 1)


def test_quarantined_lines_naming_an_erased_email_or_device_are_dropped() -> None:
    lines = [
        '{"user": "Ann@X.test", "timestamp": "soon"}',
        f'{{"serialNumber": "{DEVICE}", "sensorReadingTime": }}',
        "user=ann@x.test broken",
        '{"user": "bob@x.test", "timestamp": "soon"}',
    ]
    quarantined = pa.Table.from_pylist(
        [
            {
                "feed": "accelerometer",
                "source_file": "f.json",
                "line_number": i,
                "reason_code": "wrong_type",
                "reason": "r",
                "raw_line": line,
                "_ingested_at": NOW,
            }
            for i, line in enumerate(lines)
        ],
        schema=QUARANTINE_SCHEMA,
    )
    kept, dropped = drop_erased_lines(quarantined, tombstones(), SALT)
    assert (dropped, kept["line_number"].to_pylist()) == (3, [3])


def test_tombstones_of_another_salt_do_not_match_and_are_counted_stale() -> None:
    old = tombstones(b"retired-salt")
    rows = readings((ANN, 1))
    assert drop_erased(ACCELEROMETER, rows, old, SALT) == (rows, 0)
    assert old.stale(SALT) == 2 and tombstones().stale(SALT) == 0


def test_no_tombstones_leave_rows_untouched() -> None:
    rows = readings((ANN, 1))
    assert drop_erased(ACCELEROMETER, rows, Tombstones.empty(), SALT) == (rows, 0)
