"""Which rows erasure removes: by email, by the subject's devices, by subject_id, in raw text."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from stedi.errors import InputError
from stedi.privacy.keys import SERIAL, keyed_hash
from stedi.privacy.raw import strip_subjects
from stedi.privacy.subjects import (
    erasure_keys,
    removed_per_subject,
    subject_periods,
    subject_serials,
    subjects_of_rows,
    valid_emails,
)
from stedi.privacy.tombstones import Tombstones, tombstone_rows
from stedi.schemas import ML_SCHEMA
from tests.tables import customers, readings, steps

SALT = b"unit-salt"
ANN, BOB = "ann@x.test", "bob@x.test"


def people() -> pa.Table:
    return customers(
        {"email": ANN, "serialNumber": "dev-a", "lastUpdateDate": 1},
        {"email": "ANN@x.test", "serialNumber": "dev-shared", "lastUpdateDate": 2},
        {"email": BOB, "serialNumber": "dev-shared", "lastUpdateDate": 1},
        {"email": "cy@x.test", "serialNumber": "dev-c", "lastUpdateDate": 1},
        {"email": "cy@x.test", "serialNumber": "dev-old-of-cy", "lastUpdateDate": 0},
    )


def test_a_device_is_erased_only_for_the_time_the_subjects_records_named_it() -> None:
    # ann's first record (dev-a) is in force until her next one (time 2), which names dev-shared.
    assert subject_periods(people(), [ANN]) == {"dev-a": ((None, 2),), "dev-shared": ((2, None),)}
    assert subject_serials(people(), [ANN]) == (["dev-a", "dev-shared"], 1)  # bob named dev-shared too


def test_an_older_record_of_the_subject_adds_the_period_before_the_next_record() -> None:
    extra = customers({"email": ANN, "serialNumber": "dev-old-of-cy", "lastUpdateDate": 0})
    both = pa.concat_tables([people(), extra])
    assert subject_periods(both, [ANN]) == {
        "dev-old-of-cy": ((None, 1),),
        "dev-a": ((1, 2),),
        "dev-shared": ((2, None),),
    }
    assert subject_serials(both, [ANN]) == (["dev-a", "dev-old-of-cy", "dev-shared"], 2)


def test_request_emails_are_normalised_and_non_emails_refused() -> None:
    assert valid_emails([" Ann@X.test", "ann@x.test", BOB]) == [ANN, BOB]
    with pytest.raises(InputError, match="not an email address"):
        valid_emails(["Ann Smith"])


def test_rows_of_every_table_are_attributed_to_the_subject() -> None:
    keys = erasure_keys([" ANN@x.test"], people(), Tombstones.empty(), SALT)
    ann = keyed_hash(ANN, SALT)
    assert keys.requested_subjects == (ann,) and keys.kept_serials == 1
    assert set(keys.serials) == {keyed_hash("dev-a", SALT, SERIAL), keyed_hash("dev-shared", SALT, SERIAL)}
    found = subjects_of_rows(
        "accelerometer_landing", readings((ANN, 1), (BOB, 2), ("Ann@x.test ", 3)), keys, SALT
    )
    assert found.to_pylist() == [ann, None, ann]
    # dev-shared is ann's (and bob's) from time 2 only: bob's reading at time 1 stays.
    data = steps(("dev-a", 1), ("dev-shared", 2), ("DEV-shared", 1))
    found = subjects_of_rows("step_trainer_trusted", data, keys, SALT)
    assert found.to_pylist() == [ann, ann, None]
    assert removed_per_subject(found) == {ann: 2}
    ml = pa.Table.from_pylist(
        [
            {"subject_id": ann, "sensorReadingTime": 1},
            {"subject_id": keyed_hash(BOB, SALT), "sensorReadingTime": 1},
        ],
        schema=ML_SCHEMA,
    )
    assert subjects_of_rows("machine_learning_curated", ml, keys, SALT).to_pylist() == [ann, None]


def test_earlier_tombstones_are_applied_again_without_plaintext() -> None:
    bob = keyed_hash(BOB, SALT)
    stones = Tombstones(
        tombstone_rows({bob: bob}, {keyed_hash("dev-b", SALT, SERIAL): bob}, SALT, datetime.now(UTC))
    )
    keys = erasure_keys([], people(), stones, SALT)
    found = subjects_of_rows("step_trainer_landing", steps(("dev-b", 1), ("dev-a", 2)), keys, SALT)
    assert found.to_pylist() == [bob, None]
    assert keys.requested_subjects == ()


def test_raw_files_lose_the_subjects_records_and_keep_the_rest() -> None:
    keys = erasure_keys([ANN], people(), Tombstones.empty(), SALT)
    lines = [json.dumps({"user": "Ann@x.test", "timestamp": 1}), json.dumps({"user": BOB, "timestamp": 2})]
    data = ("\n".join(lines) + "\n").encode()
    stripped, removed = strip_subjects(data, False, keys, SALT)
    assert (stripped.decode(), removed) == (lines[1] + "\n", 1)
    array = json.dumps([{"user": ANN}, {"user": BOB}]).encode()
    stripped, removed = strip_subjects(gzip.compress(array), True, keys, SALT)
    assert (json.loads(gzip.decompress(stripped)), removed) == ([{"user": BOB}], 1)
    untouched = json.dumps({"user": BOB}).encode()
    assert strip_subjects(untouched, False, keys, SALT) == (untouched, 0)
