"""What a build of the derived tables is made of, and which days of readings it must recompute.

A derived reading table is a function of its inputs' days: readings of the same time share a UTC
day, so the trusted filters and the ML join never look across days. A build recomputes the dirty
days only: every day on a first build or a full refresh; else the days whose landing rows changed
since the last complete build, plus the days holding readings of customers whose decisions changed.
A full build is the same code with every day dirty.

Each derived table's commit records the build (policy, salt check, input versions) and its counts
per day; `machine_learning_curated` is committed last, so its newest record names the last complete
build. Commits without a record (OPTIMIZE, VACUUM) change no row and never make a build recompute.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

BUILD = "stedi.build"
COUNTS = "stedi.counts"
DAY_COUNTS = "stedi.day_counts"
FULL = "stedi.full"  # whether the build recomputed every day
DAYS = "stedi.days_recomputed"
APPENDED = "stedi.days_appended"  # days whose new rows were added, the rest of the day kept

# Counts that describe the customer records as a whole: the same on every day, never added up.
LEVEL_COUNTS = frozenset({"shared_serials"})


@dataclass(frozen=True)
class BuildRecord:
    """What a build was made from: the policy, a check value of the salt and its inputs' versions."""

    policy: str
    salt_check: str
    versions: dict[str, int | None] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {"policy": self.policy, "salt": self.salt_check, "versions": self.versions}, sort_keys=True
        )

    @classmethod
    def parse(cls, value: object) -> BuildRecord | None:
        """The record in a commit's info, or None for a missing or foreign value."""
        if not isinstance(value, str):
            return None
        try:
            raw = json.loads(value)
            versions = {str(k): None if v is None else int(v) for k, v in raw["versions"].items()}
            return cls(str(raw["policy"]), str(raw["salt"]), versions)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def same_basis(self, other: BuildRecord | None) -> bool:
        """Built under the same policy and salt, so its rows can be kept."""
        return other is not None and (other.policy, other.salt_check) == (self.policy, self.salt_check)


def commit_metadata(
    record: BuildRecord, counts: Mapping[str, int], day_counts: Mapping[str, Mapping[str, int]] | None = None
) -> dict[str, str]:
    meta = {BUILD: record.to_json(), COUNTS: json.dumps(dict(counts), sort_keys=True)}
    if day_counts is not None:
        meta[DAY_COUNTS] = json.dumps({d: dict(c) for d, c in sorted(day_counts.items())}, sort_keys=True)
    return meta


def counts_from(info: Mapping[str, object], key: str = COUNTS) -> dict[str, int]:
    raw = info.get(key)
    return {str(k): int(v) for k, v in json.loads(raw).items()} if isinstance(raw, str) else {}


def day_counts_from(info: Mapping[str, object]) -> dict[str, dict[str, int]]:
    raw = info.get(DAY_COUNTS)
    if not isinstance(raw, str):
        return {}
    return {str(d): {str(k): int(v) for k, v in c.items()} for d, c in json.loads(raw).items()}


def add_counts(parts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Counts of a rule run over parts of a table, added up (whole-table counts taken once)."""
    total: dict[str, int] = {}
    for part in parts:
        for key, value in part.items():
            total[key] = value if key in LEVEL_COUNTS else total.get(key, 0) + value
    return total


def day_key(day: date) -> str:
    return day.isoformat()


def days_from_ms(low: int, high: int) -> list[date]:
    """Every UTC day from the day of `low` to the day of `high` (epoch milliseconds)."""
    first, last = low // 86_400_000, high // 86_400_000
    return [date.fromordinal(date(1970, 1, 1).toordinal() + d) for d in range(first, last + 1)]


def close_over_files(
    dirty: set[date], file_days: Mapping[str, Sequence[date] | None], known_days: Iterable[date]
) -> tuple[set[date], set[str]]:
    """The dirty days grown until every file holding one of them is replaced whole, and those files.

    A file holding rows of several days (after maintenance rewrote the table) can only be removed
    whole, so its other days are recomputed too; a file without statistics covers every day.
    """
    if not dirty:
        return set(), set()
    days = set(dirty)
    every = set(known_days) | {d for ds in file_days.values() if ds for d in ds}
    while True:
        files = {p for p, ds in file_days.items() if ds is None or days.intersection(ds)}
        grown = set(days)
        for path in files:
            span = file_days[path]
            grown |= every if span is None else set(span)
        if grown == days:
            return days, files
        days = grown


def work_units(rows_per_day: Mapping[date, int], target_rows: int, min_units: int = 1) -> list[list[date]]:
    """Consecutive days grouped into units of about `target_rows` rows, at least `min_units` when possible.

    A unit is what one task computes: validation runs once per unit, so units are not too small,
    and there are enough of them for every worker to have one.
    """
    days = sorted(rows_per_day)
    if not days:
        return []
    total = sum(rows_per_day.values())
    target = max(1, min(target_rows, -(-total // max(1, min_units))))
    units: list[list[date]] = [[]]
    size = 0
    for day in days:
        if units[-1] and size + rows_per_day[day] > target:
            units.append([])
            size = 0
        units[-1].append(day)
        size += rows_per_day[day]
    return units
