"""What the trusted and curated tables were built from, recorded in their Delta commits.

Each derived table's commit carries `stedi.built_from` (policy, landing table versions and a check
value of the subject salt) and `stedi.counts` (the rule's counts). A run rebuilds the derived tables
when the landing tables, the policy or the salt moved since the last complete build, which includes
every build a crash interrupted, because machine_learning_curated is committed last.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

BUILT_FROM = "stedi.built_from"
COUNTS = "stedi.counts"
DERIVED_TABLES = (
    "customer_trusted",
    "accelerometer_trusted",
    "customer_curated",
    "step_trainer_trusted",
    "machine_learning_curated",
)
SOURCE_TABLES = ("customer_landing", "accelerometer_landing", "step_trainer_landing")


def fingerprint(policy: str, versions: Mapping[str, int | None], salt_check: str) -> str:
    parts = [f"policy={policy}", *(f"{t}={versions.get(t)}" for t in SOURCE_TABLES), f"salt={salt_check}"]
    return ";".join(parts)


def commit_metadata(built_from: str, counts: Mapping[str, int]) -> dict[str, str]:
    return {BUILT_FROM: built_from, COUNTS: json.dumps(dict(counts), sort_keys=True)}


def counts_from(info: Mapping[str, object]) -> dict[str, int]:
    raw = info.get(COUNTS)
    return {str(k): int(v) for k, v in json.loads(raw).items()} if isinstance(raw, str) else {}
