"""Which rows of which table belong to the subjects being erased.

Erasure matches on keyed hashes, so the same code applies a fresh request (emails in hand) and
every earlier tombstone (hashes only): erasing again keeps every erased subject gone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from stedi.errors import InputError
from stedi.identity import normalise_email, normalise_serial
from stedi.privacy.keys import EMAIL, SERIAL, keyed_hash, normalise
from stedi.privacy.tombstones import Period, Tombstones, subjects_by_hash, subjects_in_text
from stedi.registry import REGISTRY
from stedi.rules.ownership import BEGINNING, END, record_periods

# How each table names its subjects: (column, what the column holds).
# Only the data zones: the privacy tables are erasure's own bookkeeping.
TABLE_KEYS: dict[str, tuple[str, str]] = {
    name: (column, str(kind))
    for name, (column, kind) in REGISTRY.erasable.items()
    if name in REGISTRY.data_tables
}
# Tables whose serial key is matched only within the erased subject's periods of that device.
TIME_COLUMNS = {"step_trainer_landing": "sensorReadingTime", "step_trainer_trusted": "sensorReadingTime"}


@dataclass(frozen=True)
class ErasureKeys:
    """Keyed hashes to erase (hash -> subject) and, for raw text, this request's plaintext identifiers.

    `serial_periods`: serial hash -> the reading-time periods the erasure covers (the times the
    subject's records named the device); `kept_serials`: devices other customers also named, whose
    readings outside those periods stay. `step_times`: times of the requested subjects' step readings,
    for tables (udacity machine_learning_curated) whose step side carries no subject.
    """

    emails: dict[str, str]
    serials: dict[str, str]
    requested_subjects: tuple[str, ...] = ()
    kept_serials: int = 0
    needles: dict[str, str] = field(default_factory=dict, repr=False)
    serial_periods: dict[str, tuple[Period, ...]] = field(default_factory=dict)
    step_times: dict[int, str] = field(default_factory=dict, repr=False)

    @property
    def subjects(self) -> list[str]:
        return sorted(set(self.emails.values()))


def valid_emails(emails: Sequence[str]) -> list[str]:
    """Normalised, de-duplicated emails of a request; refuses values that cannot be an email."""
    out: list[str] = []
    for email in emails:
        value = normalise(email)
        if "@" not in value or len(value) < 3:
            raise InputError(
                f"erasure request #{len(out) + 1} is not an email address: pass each subject's email"
            )
        if value not in out:
            out.append(value)
    return out


def subject_serials(customers: pa.Table, emails: Sequence[str]) -> tuple[list[str], int]:
    """Normalised serials the erased customers' records name, and how many of them another customer
    named too (that customer's readings outside the erased subjects' periods stay)."""
    periods = subject_periods(customers, emails)
    wanted = set(emails)
    others = {serial for serial, key, _, _ in record_periods(customers) if key not in wanted}
    return sorted(periods), len(set(periods) & others)


def subject_periods(customers: pa.Table, emails: Sequence[str]) -> dict[str, tuple[Period, ...]]:
    """Normalised serial -> the reading-time periods during which a record of the erased customers
    (normalised emails) was in force and named it (see stedi.rules.ownership), merged; None is unbounded.

    Times when another customer named the device as well are included: such readings cannot be told
    apart, and once the subject's records are gone they would be attributed to the other customer.
    """
    wanted = set(emails)
    spans: dict[str, list[tuple[int, int]]] = {}
    for serial, key, start, until in record_periods(customers):
        if key in wanted and start < until:
            spans.setdefault(serial, []).append((start, until))
    out: dict[str, tuple[Period, ...]] = {}
    for serial, found in spans.items():
        merged: list[tuple[int, int]] = []
        for start, until in sorted(found):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], until))
            else:
                merged.append((start, until))
        out[serial] = tuple((None if a == BEGINNING else a, None if b == END else b) for a, b in merged)
    return out


def erasure_keys(
    emails: Sequence[str],
    customers: pa.Table,
    tombstones: Tombstones,
    salt: bytes,
    steps: pa.Table | None = None,
) -> ErasureKeys:
    """Keys of this request (emails, and serials found in the customer records) plus every tombstone.

    `steps` (step readings: serialNumber, sensorReadingTime), when given, yields the times of the
    requested subjects' step readings (`step_times`: time -> subject), from every device their
    records named, whatever the period (machine_learning_curated under `udacity` joins on time alone).
    """
    requested = valid_emails(emails)
    email_keys = tombstones.keys(salt, EMAIL)
    serial_keys = tombstones.keys(salt, SERIAL)
    periods = dict(tombstones.periods(salt))
    needles: dict[str, str] = {}
    for email in requested:
        subject = keyed_hash(email, salt, EMAIL)
        email_keys[subject] = subject
        needles[email] = subject
    found = subject_periods(customers, requested) if customers.num_rows else {}
    serials, kept = subject_serials(customers, requested) if customers.num_rows else ([], 0)
    owner = _serial_owners(customers, requested, serials, salt)
    for serial in serials:
        hashed = keyed_hash(serial, salt, SERIAL)
        serial_keys.setdefault(hashed, owner[serial])
        periods[hashed] = tuple(sorted(set(periods.get(hashed, ())) | set(found[serial]), key=str))
        needles[serial] = owner[serial]
    requested_subjects = tuple(keyed_hash(e, salt, EMAIL) for e in requested)
    new = {keyed_hash(s, salt, SERIAL): owner[s] for s in serials}
    times: dict[int, str] = {}
    if steps is not None and steps.num_rows and new:
        mine = subjects_by_hash(steps["serialNumber"], new, salt, SERIAL)
        matched = pc.is_valid(mine)
        step_times = steps["sensorReadingTime"].filter(matched).to_pylist()
        for t, subject in zip(step_times, mine.filter(matched).to_pylist(), strict=True):
            times.setdefault(t, subject)
    return ErasureKeys(email_keys, serial_keys, requested_subjects, kept, needles, periods, times)


def _serial_owners(
    customers: pa.Table, emails: Sequence[str], serials: Sequence[str], salt: bytes
) -> dict[str, str]:
    owner: dict[str, str] = {}
    wanted = set(emails)
    keys = normalise_email(customers["email"]).to_pylist()
    devices = normalise_serial(customers["serialNumber"]).to_pylist()
    for e, s in zip(keys, devices, strict=True):
        if e is None or s is None:
            continue
        if e in wanted and s in serials and s not in owner:
            owner[s] = keyed_hash(e, salt, EMAIL)
    return owner


def subjects_of_rows(
    table: str, rows: pa.Table, keys: ErasureKeys, salt: bytes, step_side: bool = False
) -> pa.ChunkedArray:
    """Per row of `table`: the erased subject it belongs to, else null.

    `step_side` (machine_learning_curated built under `udacity`, whose rows join a step reading to
    any accelerometer reading of the same time): rows at a time of the subjects' step readings
    (`keys.step_times`) belong to them too. That removes every row built from their step readings,
    and also other devices' rows at the same times (over-deletion, the next build restores them).
    """
    column, kind = TABLE_KEYS[table]
    values = rows[column]
    if kind == "text":
        found = subjects_in_text(values, keys.emails, keys.serials, salt, keys.needles, keys.serial_periods)
        return pa.chunked_array([found])
    if kind == "subject_id":
        hashes = pa.array(list(keys.emails), pa.string())
        subjects = pa.array(list(keys.emails.values()), pa.string())
        found = pa.chunked_array(
            [subjects.take(pc.index_in(c, value_set=hashes)) for c in values.chunks], type=pa.string()
        )
        if step_side and keys.step_times:
            times = pa.array(list(keys.step_times), pa.int64())
            owners = pa.array(list(keys.step_times.values()), pa.string())
            by_time = owners.take(pc.index_in(rows["sensorReadingTime"], value_set=times).combine_chunks())
            found = pa.chunked_array([pc.coalesce(found.combine_chunks(), by_time)], type=pa.string())
        return found
    if kind == SERIAL:
        time = TIME_COLUMNS.get(table)
        times = rows[time] if time else None
        return subjects_by_hash(values, keys.serials, salt, kind, times, keys.serial_periods)
    return subjects_by_hash(values, keys.emails, salt, kind)


def removed_per_subject(subjects: pa.ChunkedArray) -> dict[str, int]:
    """subject -> number of rows matched."""
    counts = pc.value_counts(subjects.drop_null()) if len(subjects) else pa.array([])
    return {str(c["values"]): int(c["counts"]) for c in counts.to_pylist()}
