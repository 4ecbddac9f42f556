"""Storage options that never show their values and are resolved afresh when used.

`StorageCredentials` is a read-only mapping of deltalake/object_store option names to values. Its
repr names only where the options come from, so a config or a `Lake` can be logged, passed to a
Prefect task or shown in a traceback without a key in it. Each read asks its source again:
credentials from an AwsCredentials block or a role come from a boto3 session whose provider
refreshes them before they expire, so a long run never works with expired keys. One resolution is
reused for a second, so `dict(options)` never pairs a key with another refresh's secret.
Pickling (to a process pool or a Dask worker) sends a snapshot of the current values.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

_REUSE_SECONDS = 1.0


class StorageCredentials(Mapping[str, str]):
    """Storage options behind a redacting repr, resolved by `resolve` on each use."""

    def __init__(self, resolve: Callable[[], Mapping[str, str]], source: str) -> None:
        self._resolve = resolve
        self.source = source
        self._lock = threading.Lock()
        self._last: tuple[float, dict[str, str]] | None = None

    @classmethod
    def fixed(cls, options: Mapping[str, str], source: str = "given storage options") -> StorageCredentials:
        values = dict(options)
        return cls(lambda: values, source)

    @classmethod
    def of(cls, options: Mapping[str, str] | None) -> StorageCredentials:
        """`options` as StorageCredentials (unchanged when they already are)."""
        if isinstance(options, StorageCredentials):
            return options
        return cls.fixed(options or {})

    def resolve(self) -> dict[str, str]:
        """The options now: a fresh dict, safe to hand to deltalake or pyarrow."""
        with self._lock:
            now = time.monotonic()
            if self._last is None or now - self._last[0] > _REUSE_SECONDS:
                self._last = (now, {str(k): str(v) for k, v in self._resolve().items()})
            return dict(self._last[1])

    def __getitem__(self, key: str) -> str:
        return self.resolve()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.resolve())

    def __len__(self) -> int:
        return len(self.resolve())

    def __repr__(self) -> str:
        return f"StorageCredentials(from {self.source})"

    __str__ = __repr__

    def __reduce__(self) -> tuple[Any, ...]:
        return (StorageCredentials.fixed, (self.resolve(), self.source))
