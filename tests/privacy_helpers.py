"""A subject with distinctive identifiers, written as extra landing files, and a byte scanner."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BASE = 1_655_000_000_000


@dataclass(frozen=True)
class Subject:
    name: str = "Zebulon Quixotic"
    email: str = "Zeb.Quixotic@Erase-Me.test"
    phone: str = "8019990123"
    birthday: str = "1977-03-04"
    serial: str = "f00dfeed-1234-4abc-9def-0123456789ab"

    def needles(self) -> list[str]:
        """Every personal value, and the email's local part (delta-rs may truncate long statistics)."""
        return [self.name, self.email, self.email.split("@")[0], self.phone, self.serial]


def customer_record(
    subject: Subject, consent: int | None, updated: int, email: str | None = None
) -> dict[str, Any]:
    return {
        "customerName": subject.name,
        "email": email or subject.email,
        "phone": subject.phone,
        "birthDay": subject.birthday,
        "serialNumber": subject.serial,
        "registrationDate": BASE,
        "lastUpdateDate": updated,
        "shareWithResearchAsOfDate": consent,
    }


def write_lines(path: Path, records: Iterable[dict[str, Any] | str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))


def add_subject(landing: Path, subject: Subject, times: list[int], consent: int | None = BASE) -> None:
    """The subject's customer record, accelerometer and step readings at `times`, one bad line."""
    write_lines(
        landing / "customer" / "landing" / "customer-subject.json",
        [customer_record(subject, consent, BASE + 1)],
    )
    readings: list[dict[str, Any] | str] = [
        {"user": subject.email.lower(), "timestamp": t, "x": 1.0, "y": 0.5, "z": -1.0} for t in times
    ]
    readings.append(json.dumps({"user": subject.email, "timestamp": "not a time", "x": 1.0}))  # quarantined
    write_lines(landing / "accelerometer" / "landing" / "accelerometer-subject.json", readings)
    write_lines(
        landing / "step_trainer" / "landing" / "step_trainer-subject.json",
        [{"sensorReadingTime": t, "serialNumber": subject.serial, "distanceFromObject": 222} for t in times],
    )


def files_containing(root: Path, needles: Iterable[str]) -> dict[str, list[str]]:
    """needle -> files below `root` whose bytes contain it (case-insensitive)."""
    wanted = [n.lower().encode() for n in needles]
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes().lower()
        for needle in wanted:
            if needle in data:
                found.setdefault(needle.decode(), []).append(str(path.relative_to(root)))
    return found
