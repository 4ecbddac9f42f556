"""Modules that load the first time they are used instead of when something imports them.

Some libraries import, at module level, modules that only a few of their functions use: Great
Expectations imports scipy.stats and altair for one expectation, prefect-aws imports aiobotocore
(and with it aiohttp) for its ECS worker. `defer(name)` puts a stand-in for such a module in
`sys.modules`; an `import` of the name binds the stand-in, and the real module is imported the first
time anything reads one of its attributes, so code that does use it still gets it, only later.
A name written `from module import thing` reads an attribute at once: deferring it gains nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any


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
        return  # not installed: whoever needs it says so when it is used
    stand_in = Deferred(name, spec)
    sys.modules[name] = stand_in
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, stand_in)
