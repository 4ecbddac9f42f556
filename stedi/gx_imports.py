"""Great Expectations without the imports its validation never uses.

`import great_expectations` imports every core expectation, and one of them (the KL divergence
expectation) imports scipy.stats and altair at module level: ≈ 1 s of the ≈ 2.8 s GX takes to
import, for statistics and charts that no STEDI suite uses. `defer_unused()` defers them
(`stedi.lazy_imports`): an expectation or renderer that does need one still gets it, on first use.
"""

from __future__ import annotations

from stedi.lazy_imports import defer

# Imported at module level by GX, used only inside functions our suites and Data Docs never call.
UNUSED = ("scipy.stats", "altair")


def defer_unused() -> None:
    """Defer the modules in `UNUSED`; call before importing Great Expectations."""
    for name in UNUSED:
        defer(name)
