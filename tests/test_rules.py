"""Each table rule on tiny inline tables; every test fails if its rule is removed."""

from __future__ import annotations

from stedi.policy import Policy
from stedi.rules.curated import machine_learning_curated
from stedi.rules.customers import customer_curated, customer_trusted, latest_customer_records
from stedi.rules.readings import accelerometer_trusted, step_trainer_trusted
from stedi.subject import subject_id
from tests.tables import customers, readings, steps

C = 1_660_000_000_000  # consent time used throughout
SALT = b"s"


def test_udacity_trusts_every_record_with_a_consent_date() -> None:
    table = customers({"email": "a@x.t", "shareWithResearchAsOfDate": C}, {"email": "b@x.t"})
    assert customer_trusted(table, Policy.UDACITY).table.column("email").to_pylist() == ["a@x.t"]


def test_latest_record_per_email_wins_matching_trimmed_and_case_insensitively() -> None:
    table = customers(
        {"email": "A@x.t", "lastUpdateDate": C, "shareWithResearchAsOfDate": C},
        {"email": " a@X.t ", "lastUpdateDate": C + 1, "shareWithResearchAsOfDate": None},
    )
    assert latest_customer_records(table).num_rows == 1
    assert customer_trusted(table, Policy.STRICT).table.num_rows == 0
    assert customer_trusted(table, Policy.UDACITY).table.num_rows == 1


def test_tie_on_update_time_goes_to_the_revocation() -> None:
    table = customers(
        {"email": "a@x.t", "lastUpdateDate": C, "shareWithResearchAsOfDate": C},
        {"email": "a@x.t", "lastUpdateDate": C, "shareWithResearchAsOfDate": None},
    )
    assert customer_trusted(table, Policy.STRICT).table.num_rows == 0


def test_reading_before_consent_is_excluded_under_strict_only() -> None:
    trusted = customers({"email": "a@x.t", "shareWithResearchAsOfDate": C})
    data = readings(("a@x.t", C - 1), ("a@x.t", C), ("b@x.t", C + 5))
    strict = accelerometer_trusted(data, trusted, Policy.STRICT)
    assert strict.table.column("timestamp").to_pylist() == [C]
    assert strict.counts == {"readings": 3, "of_non_consenting_owners": 1, "before_consent": 1}
    udacity = accelerometer_trusted(data, trusted, Policy.UDACITY)
    assert udacity.table.column("timestamp").to_pylist() == [C - 1, C]


def test_reading_user_matches_customer_email_case_insensitively_under_strict() -> None:
    trusted = customers({"email": "A@x.t", "shareWithResearchAsOfDate": C})
    data = readings(("a@X.t ", C + 1))
    assert accelerometer_trusted(data, trusted, Policy.STRICT).table.num_rows == 1
    assert accelerometer_trusted(data, trusted, Policy.UDACITY).table.num_rows == 0


def test_accelerometer_trusted_has_no_customer_columns() -> None:
    trusted = customers({"email": "a@x.t", "shareWithResearchAsOfDate": C})
    result = accelerometer_trusted(readings(("a@x.t", C)), trusted, Policy.STRICT)
    assert result.table.column_names == ["user", "timestamp", "x", "y", "z"]


def test_customer_curated_keeps_consenting_customers_with_readings_once() -> None:
    trusted = customers(
        {"email": "a@x.t", "shareWithResearchAsOfDate": C}, {"email": "b@x.t", "shareWithResearchAsOfDate": C}
    )
    result = customer_curated(trusted, readings(("a@x.t", C), ("a@x.t", C + 1)), Policy.STRICT)
    assert result.table.column("email").to_pylist() == ["a@x.t"]


def test_udacity_customer_curated_is_one_row_per_email() -> None:
    trusted = customers(
        {"email": "a@x.t", "shareWithResearchAsOfDate": C, "lastUpdateDate": C},
        {"email": "a@x.t", "shareWithResearchAsOfDate": C, "lastUpdateDate": C + 1},
    )
    assert customer_curated(trusted, readings(("a@x.t", C)), Policy.UDACITY).table.num_rows == 1


def test_step_readings_of_curated_devices_after_consent() -> None:
    land = customers(
        {"email": "a@x.t", "serialNumber": "s1", "shareWithResearchAsOfDate": C},
        {"email": "b@x.t", "serialNumber": "s2"},
    )
    curated = land.slice(0, 1)
    data = steps(("s1", C - 1), ("s1", C), ("s2", C))
    strict = step_trainer_trusted(data, land, curated, Policy.STRICT)
    assert strict.table.column("sensorReadingTime").to_pylist() == [C]
    assert strict.counts["before_consent"] == 1
    assert step_trainer_trusted(data, land, curated, Policy.UDACITY).table.num_rows == 2


def test_shared_device_readings_cannot_be_attributed() -> None:
    land = customers(
        {"email": "a@x.t", "serialNumber": "s1", "shareWithResearchAsOfDate": C},
        {"email": "b@x.t", "serialNumber": "s1", "shareWithResearchAsOfDate": C},
    )
    result = step_trainer_trusted(steps(("s1", C + 1)), land, land, Policy.STRICT)
    assert result.table.num_rows == 0
    assert result.counts["of_unattributable_devices"] == 1
    assert step_trainer_trusted(steps(("s1", C + 1)), land, land, Policy.UDACITY).table.num_rows == 1


def test_device_owner_is_judged_on_latest_records_only() -> None:
    land = customers(
        {"email": "a@x.t", "serialNumber": "s1", "shareWithResearchAsOfDate": C, "lastUpdateDate": C},
        {"email": "b@x.t", "serialNumber": "s1", "lastUpdateDate": C},
        {"email": "b@x.t", "serialNumber": "s9", "lastUpdateDate": C + 1},
    )
    result = step_trainer_trusted(steps(("s1", C + 1)), land, land.slice(0, 1), Policy.STRICT)
    assert result.table.num_rows == 1


def test_ml_rows_join_same_time_and_same_customer_and_carry_only_a_subject_id() -> None:
    curated = customers(
        {"email": "a@x.t", "serialNumber": "s1", "shareWithResearchAsOfDate": C},
        {"email": "b@x.t", "serialNumber": "s2", "shareWithResearchAsOfDate": C},
    )
    step = steps(("s1", C + 1), ("s2", C + 1))
    accel = readings(("a@x.t", C + 1), ("a@x.t", C + 1), ("b@x.t", C + 2))
    strict = machine_learning_curated(step, accel, curated, Policy.STRICT, SALT).table
    assert strict.column_names == ["subject_id", "sensorReadingTime", "distanceFromObject", "x", "y", "z"]
    assert strict.column("subject_id").to_pylist() == [subject_id("a@x.t", SALT)] * 2
    udacity = machine_learning_curated(step, accel, curated, Policy.UDACITY, SALT).table
    assert udacity.num_rows == 4  # time alone: both devices match a's two readings


def test_subject_id_is_keyed_and_normalised() -> None:
    assert subject_id(" A@x.T ", b"k") == subject_id("a@x.t", b"k")
    assert subject_id("a@x.t", b"k") != subject_id("a@x.t", b"other")
    assert len(subject_id("a@x.t", b"k")) == 64
