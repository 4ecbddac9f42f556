"""Erasure by period and on both sides of the ML table; one normalisation for every identity."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
from deltalake import write_deltalake

from stedi.identity import normalise_email_value
from stedi.privacy.keys import SERIAL, keyed_hash
from stedi.privacy.subjects import erasure_keys, subjects_of_rows
from stedi.privacy.tables import TOMBSTONE_SCHEMA
from stedi.privacy.tombstones import TOMBSTONES, Tombstones, drop_erased, read_tombstones, tombstone_rows
from stedi.schemas import ML_SCHEMA, STEP_TRAINER
from stedi.storage import Lake
from stedi.subject import subject_id, subject_ids
from tests.tables import customers, steps

SALT = b"unit-salt"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
C = 1_660_000_000_000
# ann owns device D until C + 100; then ann's next record names another device and bob's names D.
PEOPLE = customers(
    {"email": "ann@x.test", "serialNumber": "D", "lastUpdateDate": C},
    {"email": "ann@x.test", "serialNumber": "ann-2", "lastUpdateDate": C + 100},
    {"email": "bob@x.test", "serialNumber": "bob-1", "lastUpdateDate": C},
    {"email": "bob@x.test", "serialNumber": "d", "lastUpdateDate": C + 100},
)
ANN = keyed_hash("ann@x.test", SALT)


def test_a_serial_tombstone_covers_only_the_erased_subjects_period() -> None:
    keys = erasure_keys(["ann@x.test"], PEOPLE, Tombstones.empty(), SALT)
    device = keyed_hash("d", SALT, SERIAL)
    assert keys.serial_periods[device] == ((None, C + 100),)
    stones = Tombstones(tombstone_rows(keys.emails, keys.serials, SALT, NOW, keys.serial_periods))
    # A re-delivered landing file: ann's readings of D go, bob's later readings of D stay.
    kept, dropped = drop_erased(
        STEP_TRAINER, steps(("D", C + 50), ("d", C + 100), ("D", C + 150)), stones, SALT
    )
    assert (kept["sensorReadingTime"].to_pylist(), dropped) == ([C + 100, C + 150], 1)


def test_tombstones_written_before_periods_existed_cover_all_time(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path), {})
    old = tombstone_rows({}, {keyed_hash("d", SALT, SERIAL): ANN}, SALT, NOW).drop_columns(
        ["valid_from", "valid_until"]
    )
    write_deltalake(lake.uri(TOMBSTONES), old)
    stones = read_tombstones(lake)
    assert stones.periods(SALT) == {keyed_hash("d", SALT, SERIAL): ((None, None),)}
    # A new period tombstone is appended to the old table, which gains the period columns.
    new = tombstone_rows(
        {}, {keyed_hash("e", SALT, SERIAL): ANN}, SALT, NOW, {keyed_hash("e", SALT, SERIAL): [(1, 2)]}
    )
    lake.write(TOMBSTONES, new, mode="append", schema_mode="merge")
    assert read_tombstones(lake).table.schema == TOMBSTONE_SCHEMA
    assert read_tombstones(lake).periods(SALT)[keyed_hash("e", SALT, SERIAL)] == ((1, 2),)


def test_udacity_erasure_removes_ml_rows_built_from_the_subjects_step_readings() -> None:
    # Under udacity an ML row is a step reading joined on time alone: its subject_id can be bob's
    # although the step reading came from ann's device. Erasing ann removes it (by ann's step times).
    landing = steps(("D", C + 50), ("d", C + 150), ("bob-1", C + 60))
    keys = erasure_keys(["ann@x.test"], PEOPLE, Tombstones.empty(), SALT, landing)
    bob = subject_id("bob@x.test", SALT)
    ml = pa.Table.from_pylist(
        [
            {"subject_id": bob, "sensorReadingTime": C + 50},  # ann's step reading, bob's accelerometer
            {"subject_id": bob, "sensorReadingTime": C + 150},  # bob's own device, after ann's period
            {"subject_id": bob, "sensorReadingTime": C + 60},
        ],
        schema=ML_SCHEMA,
    )
    assert subjects_of_rows("machine_learning_curated", ml, keys, SALT, step_side=True).to_pylist() == [
        ANN,
        ANN,  # D's readings after ann's period are bob's: deleting by time over-deletes them
        None,
    ]
    assert subjects_of_rows("machine_learning_curated", ml, keys, SALT).to_pylist() == [None, None, None]


def test_dotted_capital_i_normalises_alike_in_subject_ids_erasure_and_rules() -> None:
    email = "İnci@X.test"
    assert normalise_email_value(email) == "inci@x.test"  # Arrow; Python's lower() gives "i̇nci@x.test"
    assert subject_id(email, SALT) == subject_ids(pa.array([email]), SALT)[0].as_py()
    assert subject_id(email, SALT) == subject_id("inci@x.test", SALT)
    assert keyed_hash(email, SALT) == subject_id(email, SALT)
    keys = erasure_keys([email], customers({"email": email, "serialNumber": "İ-1"}), Tombstones.empty(), SALT)
    ml = pa.Table.from_pylist(
        [{"subject_id": subject_ids(pa.array([" İNCI@x.test"]), SALT)[0].as_py(), "sensorReadingTime": 1}],
        schema=ML_SCHEMA,
    )
    assert subjects_of_rows("machine_learning_curated", ml, keys, SALT).to_pylist() == [
        keys.requested_subjects[0]
    ]
    found = subjects_of_rows("step_trainer_landing", steps(("i-1", 5)), keys, SALT)
    assert found.to_pylist() == [keys.requested_subjects[0]]
