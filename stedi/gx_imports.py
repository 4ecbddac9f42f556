"""Great Expectations without the imports its validation never uses.

`import great_expectations` imports every core expectation, and one of them (the KL divergence
expectation) imports scipy.stats and altair at module level: ≈ 1 s of the ≈ 2.8 s GX takes to
import, for statistics and charts that no STEDI suite uses. It also imports all of SQLAlchemy
(≈ 0.3 s) when it is installed, for its SQL data sources; SQLAlchemy is optional for GX (installed
here because Prefect's server needs it). `skip_unused()`, called in a process of ours before GX is
imported, defers the former (`stedi.lazy_imports`: an expectation or renderer that does need one
still gets it, on first use) and hides SQLAlchemy, so that GX runs as it does where SQLAlchemy is
not installed: validating pandas frames and writing its file or S3 stores need none of it.
"""

from __future__ import annotations

import sys

from stedi.lazy_imports import defer

# Imported at module level by GX, used only inside functions our suites and Data Docs never call.
UNUSED = ("scipy.stats", "altair")
# Optional for GX, which imports it whole when it is installed (every import is guarded).
HIDDEN = ("sqlalchemy",)


def skip_unused() -> None:
    """Defer `UNUSED` and hide `HIDDEN` (unless already imported); call before importing GX."""
    for name in UNUSED:
        defer(name)
    for name in HIDDEN:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None: "import name" fails
