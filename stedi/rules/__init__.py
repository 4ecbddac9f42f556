"""The table definitions: pure functions over Arrow tables, free of Prefect and Delta."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa


@dataclass(frozen=True)
class RuleResult:
    """A computed table plus the counts that explain what the rule kept and dropped."""

    table: pa.Table
    counts: dict[str, int] = field(default_factory=dict)
