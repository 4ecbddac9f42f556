"""The pure parts of a build: records, dirty days grown to whole files, units of work."""

from __future__ import annotations

from datetime import date

from stedi.build import BuildRecord, add_counts, close_over_files, days_from_ms, work_units

D1, D2, D3, D4 = (date(2022, 6, d) for d in (18, 19, 20, 21))


def test_a_record_round_trips_and_ignores_foreign_values() -> None:
    record = BuildRecord("strict", "abc", {"customer_landing": 3, "quarantine": None})
    assert BuildRecord.parse(record.to_json()) == record
    assert BuildRecord.parse("policy=strict;salt=x") is None
    assert BuildRecord.parse(None) is None
    assert record.same_basis(BuildRecord("strict", "abc", {}))
    assert not record.same_basis(BuildRecord("udacity", "abc", {}))


def test_days_of_a_time_range_include_both_ends() -> None:
    start = 1_655_510_400_000  # 2022-06-18T00:00Z
    assert days_from_ms(start, start) == [D1]
    assert days_from_ms(start - 1, start + 86_400_000) == [date(2022, 6, 17), D1, D2]


def test_a_file_spanning_two_days_makes_both_dirty() -> None:
    files = {"a": [D1], "b": [D2, D3], "c": [D4]}
    days, removed = close_over_files({D2}, files, [D1, D2, D3, D4])
    assert days == {D2, D3}
    assert removed == {"b"}


def test_a_file_without_statistics_makes_every_day_dirty() -> None:
    days, removed = close_over_files({D1}, {"a": [D1], "b": None, "c": [D4]}, [D1, D2])
    assert days == {D1, D2, D4}
    assert removed == {"a", "b", "c"}


def test_nothing_dirty_removes_nothing() -> None:
    assert close_over_files(set(), {"a": [D1], "b": None}, [D1]) == (set(), set())


def test_units_hold_consecutive_days_of_about_the_target_size() -> None:
    rows = {D1: 5, D2: 5, D3: 5, D4: 5}
    assert work_units(rows, target_rows=10) == [[D1, D2], [D3, D4]]
    assert work_units(rows, target_rows=100, min_units=2) == [[D1, D2], [D3, D4]]
    assert work_units({D1: 50, D2: 1}, target_rows=10) == [[D1], [D2]]
    assert work_units({}, target_rows=10) == []


def test_whole_table_counts_are_taken_once() -> None:
    parts = [{"readings": 2, "shared_serials": 3}, {"readings": 5, "shared_serials": 3}]
    assert add_counts(parts) == {"readings": 7, "shared_serials": 3}
