"""What the trusted and curated tables were built from, recorded in their Delta commits.

Each derived table's commit carries `stedi.built_from` (policy, landing table versions and a check
value of the subject salt) and `stedi.counts` (the rule's counts). A run rebuilds the derived tables
when the landing tables, the policy or the salt moved since the last complete build, which includes
every build a crash interrupted, because machine_learning_curated is committed last.

An append (only new landing rows to absorb) commits each derived table with `stedi.built_from` set
to the new fingerprint and `stedi.base` to the build it extended, so a rerun after a crash skips
the tables that already absorbed the new rows and appends to the others exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from stedi.registry import REGISTRY

BUILT_FROM = "stedi.built_from"
COUNTS = "stedi.counts"
BASE = "stedi.base"
DERIVED_TABLES = tuple(REGISTRY.build_order())
SOURCE_TABLES = tuple(REGISTRY.sources())


def fingerprint(policy: str, versions: Mapping[str, int | None], salt_check: str) -> str:
    parts = [f"policy={policy}", *(f"{t}={versions.get(t)}" for t in SOURCE_TABLES), f"salt={salt_check}"]
    return ";".join(parts)


@dataclass(frozen=True)
class Fingerprint:
    """A parsed `stedi.built_from` value."""

    policy: str
    versions: dict[str, int | None]
    salt_check: str


def parse_fingerprint(value: object) -> Fingerprint | None:
    """The parts of a fingerprint, or None for a missing or foreign value."""
    if not isinstance(value, str):
        return None
    parts = dict(p.split("=", 1) for p in value.split(";") if "=" in p)
    if "policy" not in parts or "salt" not in parts or any(t not in parts for t in SOURCE_TABLES):
        return None
    versions = {t: None if parts[t] == "None" else int(parts[t]) for t in SOURCE_TABLES}
    return Fingerprint(parts["policy"], versions, parts["salt"])


def commit_metadata(built_from: str, counts: Mapping[str, int], base: str | None = None) -> dict[str, str]:
    """Commit info of a derived table; `base` names the build an append started from."""
    meta = {BUILT_FROM: built_from, COUNTS: json.dumps(dict(counts), sort_keys=True)}
    if base is not None:
        meta[BASE] = base
    return meta


def counts_from(info: Mapping[str, object]) -> dict[str, int]:
    raw = info.get(COUNTS)
    return {str(k): int(v) for k, v in json.loads(raw).items()} if isinstance(raw, str) else {}
