"""Device ownership over time (strict): a reading belongs to whoever's record in force named the device."""

from __future__ import annotations

from stedi.policy import Policy
from stedi.rules.curated import machine_learning_curated
from stedi.rules.ownership import BEGINNING, END
from stedi.rules.readings import device_owners, step_trainer_trusted
from stedi.subject import subject_id
from tests.tables import customers, readings, steps

C = 1_660_000_000_000
SALT = b"s"
# A owns device S until C + 100, when A's next record names another device and B's next record names S.
A1 = {"email": "a@x.t", "serialNumber": "S", "lastUpdateDate": C, "shareWithResearchAsOfDate": C}
A2 = {"email": "a@x.t", "serialNumber": "other", "lastUpdateDate": C + 100, "shareWithResearchAsOfDate": C}
B0 = {"email": "b@x.t", "serialNumber": "b-old", "lastUpdateDate": C, "shareWithResearchAsOfDate": C}
B1 = {"email": "b@x.t", "serialNumber": "s ", "lastUpdateDate": C + 100, "shareWithResearchAsOfDate": C}


def segments(*records: dict[str, object]) -> list[tuple[str, int, int, str | None, int]]:
    table = device_owners(customers(*records)).segments
    return [tuple(r.values()) for r in table.to_pylist()]  # type: ignore[misc]


def test_a_record_is_in_force_until_the_customers_next_record() -> None:
    assert segments(A1, A2, B0, B1) == [
        ("b-old", BEGINNING, C + 100, "b@x.t", 1),
        ("other", C + 100, END, "a@x.t", 1),
        ("s", BEGINNING, C + 100, "a@x.t", 1),
        ("s", C + 100, END, "b@x.t", 1),
    ]


def test_a_reading_during_bs_ownership_is_not_given_to_a() -> None:
    land = customers(A1, A2, B0, B1)
    curated = customers(A2, B1)  # both consent and have accelerometer data
    data = steps(("S", C + 50), ("S", C + 150))
    kept = step_trainer_trusted(data, land, curated, Policy.STRICT).table
    assert kept["sensorReadingTime"].to_pylist() == [C + 50, C + 150]
    accel = readings(("a@x.t", C + 50), ("a@x.t", C + 150), ("b@x.t", C + 150))
    ml = machine_learning_curated(kept, accel, curated, Policy.STRICT, SALT, device_owners(land)).table
    assert sorted(
        zip(ml["subject_id"].to_pylist(), ml["sensorReadingTime"].to_pylist(), strict=True)
    ) == sorted([(subject_id("a@x.t", SALT), C + 50), (subject_id("b@x.t", SALT), C + 150)])


def test_a_reading_of_a_device_whose_owner_is_not_curated_at_that_time_is_dropped() -> None:
    land = customers(A1, A2, B0, B1)
    data = steps(("S", C + 50), ("S", C + 150))
    only_a = step_trainer_trusted(data, land, customers(A2), Policy.STRICT)
    assert only_a.table["sensorReadingTime"].to_pylist() == [C + 50]
    assert only_a.counts["not_of_curated_devices"] == 1


def test_a_serial_two_customers_name_at_time_t_is_unattributable_then() -> None:
    # B names S from C + 100 but A's only record names S for ever: shared from C + 100 on.
    land = customers(A1, B0, B1)
    result = step_trainer_trusted(steps(("S", C + 50), ("S", C + 150)), land, land, Policy.STRICT)
    assert result.table["sensorReadingTime"].to_pylist() == [C + 50]
    assert result.counts["of_unattributable_devices"] == 1
    assert result.counts["shared_serials"] == 1


def test_serials_match_case_insensitively_and_trimmed() -> None:
    land = customers({**A1, "serialNumber": " AbC "})
    result = step_trainer_trusted(steps(("abc", C + 1), ("ABC", C + 2)), land, land, Policy.STRICT)
    assert result.table.num_rows == 2


def test_the_first_record_is_in_force_from_the_beginning_of_time() -> None:
    land = customers({**A1, "lastUpdateDate": C + 500})
    result = step_trainer_trusted(steps(("S", C + 1)), land, land, Policy.STRICT)
    assert result.table.num_rows == 1
    # So a new customer's first record naming a device shares it with its earlier owner before then.
    land = customers(A1, A2, {**B1, "email": "new@x.t"})
    result = step_trainer_trusted(steps(("S", C + 50)), land, land, Policy.STRICT)
    assert result.counts["of_unattributable_devices"] == 1


def test_an_undated_record_only_widens_sharing() -> None:
    undated = {"email": "c@x.t", "serialNumber": "S", "lastUpdateDate": None}
    land = customers(A1, undated)
    result = step_trainer_trusted(steps(("S", C + 1)), land, land, Policy.STRICT)
    assert result.counts["of_unattributable_devices"] == 1


def test_udacity_matches_serials_case_insensitively_too() -> None:
    land = customers({**A1, "serialNumber": " AbC "})
    result = step_trainer_trusted(
        steps(("abc", C - 5), ("ABC", C + 2), ("xyz", C)), land, land, Policy.UDACITY
    )
    assert result.table["sensorReadingTime"].to_pylist() == [C - 5, C + 2]
