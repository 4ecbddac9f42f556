"""Great Expectations suites, one JSON file per table, reviewable in the repository.

Each file holds GX 1.x expectation configurations. Two keys of `meta` are ours:
`why` (the rule in words) and `policies` (the policies it applies to; all when absent).
GX's own `severity` decides what blocks: `critical` (the default) stops the table from being
published, `warning` is reported only.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any


def suite_names() -> list[str]:
    return sorted(
        p.name.removesuffix(".json") for p in resources.files(__name__).iterdir() if p.name.endswith(".json")
    )


def load_suite(table: str) -> dict[str, Any]:
    """The suite of `table` as a dict (name, expectations): the table's spec names it."""
    from stedi.registry import REGISTRY

    name = REGISTRY[table].suite if table in REGISTRY else None
    if name and name.endswith(".json"):  # a suite kept outside this package (a table added elsewhere)
        suite: dict[str, Any] = json.loads(Path(name).read_text(encoding="utf-8"))
        return suite
    path = resources.files(__name__) / f"{name or table}.json"
    if not path.is_file():
        raise KeyError(f"no expectation suite for table {table!r}: add expectations/{table}.json")
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded
