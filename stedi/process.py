"""Helper processes end with the process that started them, even when it is killed."""

from __future__ import annotations

import contextlib
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Ask Linux to SIGTERM this process when its parent `parent` ends (no-op elsewhere).

    Call it in the child (a `preexec_fn`, or a pool initializer): a crashed or killed `stedi run`
    then leaves no temporary Prefect server or validation process behind. A parent that died
    before the request was made cannot signal any more: the child then ends at once.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        os._exit(1)
