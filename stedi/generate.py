"""Seeded synthetic landing data shaped like the course data, written as a stream of NDJSON files.

About half the customers consent to research, with consent times inside their reading window so
the consent-time rule matters; readings come in groups of about three per user and timestamp; the
step trainer reads at the same timestamps on the customer's device; a few customers send a newer
record (re-registration or revoked consent) and a few devices are shared by two customers.
"""

from __future__ import annotations

import json
import random
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

FIRST = (
    "Santosh",
    "Ben",
    "Frank",
    "Sarah",
    "Jacob",
    "Lyn",
    "Ana",
    "Chris",
    "Danny",
    "Eric",
    "Jo",
    "Liz",
    "Mei",
    "Raj",
)
LAST = (
    "Clayton",
    "Khatib",
    "Doshi",
    "Lincoln",
    "Mitra",
    "Jackson",
    "Fibonnaci",
    "Ahmed",
    "Hansen",
    "Tanaka",
    "Wu",
)
BASE_MS = 1_655_000_000_000  # June 2022, like the course data
AXES = [(float(x), float(y), float(z)) for x in (-1, 0, 1) for y in (-1, 0, 1) for z in (-1, 0, 1)]


@dataclass(frozen=True)
class GeneratorSpec:
    customers: int = 500
    seed: int = 7
    files: int = 4
    timestamps_per_customer: int = 30
    consent_share: float = 0.5
    without_readings_share: float = 0.1
    newer_record_share: float = 0.04
    shared_device_share: float = 0.01


@dataclass
class GeneratorStats:
    customer_records: int = 0
    accelerometer: int = 0
    step_trainer: int = 0


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":")) + "\n"


class _Writers:
    """One open file per feed and part; customers are spread over parts in contiguous blocks."""

    def __init__(self, stack: ExitStack, out: Path, seed: int, parts: int) -> None:
        self.files: dict[str, list[IO[str]]] = {}
        for feed in ("customer", "accelerometer", "step_trainer"):
            folder = out / feed / "landing"
            folder.mkdir(parents=True, exist_ok=True)
            self.files[feed] = [
                stack.enter_context((folder / f"{feed}-{seed}-{k:03d}.json").open("w", encoding="utf-8"))
                for k in range(parts)
            ]

    def write(self, feed: str, part: int, record: dict[str, Any]) -> None:
        self.files[feed][part].write(_line(record))


def generate(out: Path, spec: GeneratorSpec) -> GeneratorStats:
    """Write DIR/<feed>/landing/*.json deterministically for `spec.seed`; memory stays flat."""
    rng = random.Random(spec.seed)
    stats = GeneratorStats()
    parts = max(1, spec.files)
    newer: list[dict[str, Any]] = []
    previous_serial: str | None = None
    with ExitStack() as stack:
        writers = _Writers(stack, Path(out), spec.seed, parts)
        for i in range(spec.customers):
            part = i * parts // max(1, spec.customers)
            first, last = rng.choice(FIRST), rng.choice(LAST)
            email = f"{first}.{last}.{i}@example.test"
            serial = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            if previous_serial and rng.random() < spec.shared_device_share:
                serial = previous_serial  # a fulfilment defect: two customers, one device
            previous_serial = serial
            registered = BASE_MS + rng.randrange(0, 30 * 86_400_000)
            start = registered + rng.randrange(3_600_000, 5 * 86_400_000)
            has_readings = rng.random() >= spec.without_readings_share
            count = max(1, int(rng.gauss(spec.timestamps_per_customer, spec.timestamps_per_customer / 4)))
            times = []
            t = start
            for _ in range(count):
                t += rng.randrange(500, 3_000)
                times.append(t)
            span = times[-1] - start
            consent = (
                start + int(rng.uniform(-0.5, 0.6) * span) if rng.random() < spec.consent_share else None
            )
            record = {
                "customerName": f"{first} {last}",
                "email": email,
                "phone": f"801555{rng.randrange(10_000):04d}",
                "birthDay": _birthday(rng),
                "serialNumber": serial,
                "registrationDate": registered,
                "lastUpdateDate": max(registered, consent or registered),
                "shareWithResearchAsOfDate": consent,
                "shareWithPublicAsOfDate": consent if rng.random() < 0.5 else None,
                "shareWithFriendsAsOfDate": consent if rng.random() < 0.5 else None,
            }
            if record["shareWithResearchAsOfDate"] is None and rng.random() < 0.5:
                del record["shareWithResearchAsOfDate"]  # absent keys happen, not just nulls
            writers.write("customer", part, record)
            stats.customer_records += 1
            if rng.random() < spec.newer_record_share:
                newer.append(_newer_record(rng, record, times[-1], start, span))
            for ts in times:
                writers.write(
                    "step_trainer",
                    part,
                    {
                        "sensorReadingTime": ts,
                        "serialNumber": serial,
                        "distanceFromObject": rng.randrange(150, 300),
                    },
                )
                stats.step_trainer += 1
                if not has_readings:
                    continue
                # Distinct x/y/z per timestamp: like the course data, no reading is an exact duplicate.
                for x, y, z in rng.sample(AXES, rng.choice((2, 3, 3, 4))):
                    writers.write(
                        "accelerometer", part, {"user": email, "timestamp": ts, "x": x, "y": y, "z": z}
                    )
                    stats.accelerometer += 1
        for record in newer:
            writers.write("customer", parts - 1, record)
            stats.customer_records += 1
    return stats


def _birthday(rng: random.Random) -> str:
    return f"{rng.randrange(1940, 2005)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"


def _newer_record(
    rng: random.Random, record: dict[str, Any], end: int, start: int, span: int
) -> dict[str, Any]:
    """A later record of the same customer: email cased and padded differently, consent revoked or moved."""
    newer = dict(record)
    newer["email"] = f"  {record['email'].upper()} " if rng.random() < 0.5 else record["email"].lower()
    newer["lastUpdateDate"] = end + rng.randrange(1_000, 86_400_000)
    newer["shareWithResearchAsOfDate"] = None if rng.random() < 0.5 else start + int(0.8 * span)
    return newer
