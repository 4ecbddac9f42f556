"""Exclusion check shared by the local and the S3 lease tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any


def most_holders_at_once(
    hold: Callable[[], AbstractContextManager[Any]], writers: int = 3, rounds: int = 3, pause: float = 0.02
) -> int:
    """Let `writers` threads take `hold()` `rounds` times each; the most that were inside at once."""
    inside, most = [0], [0]
    guard = threading.Lock()

    def writer() -> None:
        for _ in range(rounds):
            with hold():
                with guard:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                time.sleep(pause)
                with guard:
                    inside[0] -= 1

    threads = [threading.Thread(target=writer) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return most[0]
