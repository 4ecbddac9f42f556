"""An independent, plain-Python implementation of the strict policy, to check the flow against."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any


def records(root: Path, feed: str) -> list[dict[str, Any]]:
    """Every record of a feed, each exact duplicate once (as the landing tables load them)."""
    out, seen = [], set()
    for path in sorted((root / feed / "landing").glob("*.json")):
        for line in path.read_text().splitlines():
            if line.strip() and line not in seen:
                seen.add(line)
                out.append(json.loads(line))
    return out


def strict_counts(root: Path) -> dict[str, int]:
    customers, accel, steps = (
        records(root, "customer"),
        records(root, "accelerometer"),
        records(root, "step_trainer"),
    )
    latest: dict[str, dict[str, Any]] = {}
    for c in customers:
        key = c["email"].strip().lower()
        if key not in latest or c["lastUpdateDate"] > latest[key]["lastUpdateDate"]:
            latest[key] = c
    consent = {
        k: c["shareWithResearchAsOfDate"] for k, c in latest.items() if c.get("shareWithResearchAsOfDate")
    }
    trusted = [
        r
        for r in accel
        if r["user"].strip().lower() in consent and r["timestamp"] >= consent[r["user"].strip().lower()]
    ]
    curated = {r["user"].strip().lower() for r in trusted}
    owners: dict[str, set[str]] = defaultdict(set)
    for key, c in latest.items():
        owners[c["serialNumber"]].add(key)
    step_trusted = []
    for s in steps:
        keys = owners.get(s["serialNumber"], set())
        if len(keys) == 1:
            (owner,) = keys
            if owner in curated and s["sensorReadingTime"] >= consent[owner]:
                step_trusted.append((owner, s["sensorReadingTime"]))
    per_owner_time = Counter((r["user"].strip().lower(), r["timestamp"]) for r in trusted)
    return {
        "customer_landing": len(customers),
        "accelerometer_landing": len(accel),
        "step_trainer_landing": len(steps),
        "customer_trusted": len(consent),
        "accelerometer_trusted": len(trusted),
        "customer_curated": len(curated),
        "step_trainer_trusted": len(step_trusted),
        "machine_learning_curated": sum(per_owner_time[o] for o in step_trusted),
    }
