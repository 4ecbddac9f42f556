"""Great Expectations without the imports its validation never uses.

`import great_expectations` imports every core expectation, and one of them (the KL divergence
expectation) imports scipy.stats and altair at module level: ≈ 1 s of the ≈ 2.8 s GX takes to
import, for statistics and charts that no STEDI suite uses. `defer_unused()` puts a stand-in for
each of those modules in `sys.modules` before GX is imported; the real module is imported the
first time anything reads one of its attributes, so an expectation or renderer that does need it
still gets it, only later.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

# Imported at module level by GX, used only inside functions our suites and Data Docs never call.
UNUSED = ("scipy.stats", "altair")


class Deferred(types.ModuleType):
    """Stands in for module `name` until one of its attributes is read, then imports it and delegates.

    `__spec__` is the real module's spec (the import system reads it on every `import name`), so
    an import of the name alone does not load it.
    """

    def __init__(self, name: str, spec: Any) -> None:
        super().__init__(name)
        self.__spec__ = spec

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.load(), attr)

    def load(self) -> types.ModuleType:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]  # the real import puts the real module in its place
        return importlib.import_module(self.__name__)


def defer(name: str) -> None:
    """Put a stand-in for `name` in `sys.modules` (and on its parent package) unless it is imported."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)  # imports the parent package, not the module
    if spec is None:
        return  # not installed: GX says so when it needs it
    stand_in = Deferred(name, spec)
    sys.modules[name] = stand_in
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, stand_in)


def defer_unused() -> None:
    """Defer the modules in `UNUSED`; call before importing Great Expectations."""
    for name in UNUSED:
        defer(name)
