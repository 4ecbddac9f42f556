"""Fault injection for crash-safety tests: kill this process at a named point of a run.

Set by `stedi.config` from STEDI_FAULT_KILL_AT (e.g. `after_commit:accelerometer_landing`); unset in
normal use, where `checkpoint` is a dictionary lookup and nothing else.
"""

from __future__ import annotations

import os
import signal

_kill_at: set[str] = set()


def arm(points: str) -> None:
    _kill_at.clear()
    _kill_at.update(p.strip() for p in points.split(",") if p.strip())


def checkpoint(name: str) -> None:
    """SIGKILL this process if the test armed `name`: no cleanup, no finally blocks, like a power cut."""
    if name in _kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
