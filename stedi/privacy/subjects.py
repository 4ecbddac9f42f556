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
from stedi.privacy.keys import EMAIL, SERIAL, keyed_hash, normalise
from stedi.privacy.tombstones import Tombstones, subjects_by_hash, subjects_in_text
from stedi.registry import REGISTRY
from stedi.rules.customers import latest_customer_records
from stedi.rules.keys import normalise_email

# How each table names its subjects: (column, what the column holds).
# Only the data zones: the privacy tables are erasure's own bookkeeping.
TABLE_KEYS: dict[str, tuple[str, str]] = {
    name: (column, str(kind))
    for name, (column, kind) in REGISTRY.erasable.items()
    if name in REGISTRY.data_tables
}


@dataclass(frozen=True)
class ErasureKeys:
    """Keyed hashes to erase (hash -> subject) and, for raw text, this request's plaintext identifiers."""

    emails: dict[str, str]
    serials: dict[str, str]
    requested_subjects: tuple[str, ...] = ()
    kept_serials: int = 0
    needles: dict[str, str] = field(default_factory=dict, repr=False)

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
    """Device serials of the erased customers, except serials that another, non-erased customer's
    latest record names (that device's readings still belong to someone); and how many were kept."""
    wanted = pa.array(list(emails), pa.string())
    keys = normalise_email(customers["email"])
    mine = pc.is_in(keys, value_set=wanted)
    theirs = customers.filter(pc.invert(mine))
    serials = {normalise(s) for s in customers.filter(mine)["serialNumber"].to_pylist() if s}
    others = latest_customer_records(theirs)["serialNumber"].to_pylist() if theirs.num_rows else []
    kept = serials & {normalise(s) for s in others if s}
    return sorted(serials - kept), len(kept)


def erasure_keys(
    emails: Sequence[str], customers: pa.Table, tombstones: Tombstones, salt: bytes
) -> ErasureKeys:
    """Keys of this request (emails, and serials found in the customer records) plus every tombstone."""
    requested = valid_emails(emails)
    email_keys = tombstones.keys(salt, EMAIL)
    serial_keys = tombstones.keys(salt, SERIAL)
    needles: dict[str, str] = {}
    for email in requested:
        subject = keyed_hash(email, salt, EMAIL)
        email_keys[subject] = subject
        needles[email] = subject
    serials, kept = subject_serials(customers, requested) if customers.num_rows else ([], 0)
    owner = _serial_owners(customers, requested, serials, salt)
    for serial in serials:
        serial_keys.setdefault(keyed_hash(serial, salt, SERIAL), owner[serial])
        needles[serial] = owner[serial]
    requested_subjects = tuple(keyed_hash(e, salt, EMAIL) for e in requested)
    return ErasureKeys(email_keys, serial_keys, requested_subjects, kept, needles)


def _serial_owners(
    customers: pa.Table, emails: Sequence[str], serials: Sequence[str], salt: bytes
) -> dict[str, str]:
    owner: dict[str, str] = {}
    wanted = set(emails)
    for email, serial in zip(
        customers["email"].to_pylist(), customers["serialNumber"].to_pylist(), strict=True
    ):
        if email is None or serial is None:
            continue
        e, s = normalise(email), normalise(serial)
        if e in wanted and s in serials and s not in owner:
            owner[s] = keyed_hash(e, salt, EMAIL)
    return owner


def subjects_of_rows(table: str, rows: pa.Table, keys: ErasureKeys, salt: bytes) -> pa.ChunkedArray:
    """Per row of `table`: the erased subject it belongs to, else null."""
    column, kind = TABLE_KEYS[table]
    values = rows[column]
    if kind == "text":
        return pa.chunked_array([subjects_in_text(values, keys.emails, keys.serials, salt, keys.needles)])
    if kind == "subject_id":
        hashes = pa.array(list(keys.emails), pa.string())
        subjects = pa.array(list(keys.emails.values()), pa.string())
        return pa.chunked_array(
            [subjects.take(pc.index_in(c, value_set=hashes)) for c in values.chunks], type=pa.string()
        )
    return subjects_by_hash(values, keys.emails if kind == EMAIL else keys.serials, salt, kind)


def removed_per_subject(subjects: pa.ChunkedArray) -> dict[str, int]:
    """subject -> number of rows matched."""
    counts = pc.value_counts(subjects.drop_null()) if len(subjects) else pa.array([])
    return {str(c["values"]): int(c["counts"]) for c in counts.to_pylist()}
