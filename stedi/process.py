"""Helper processes end with the process that started them, even when it is killed."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
from collections.abc import Callable

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


def end_at_exit(code: Callable[[], int | None]) -> None:
    """At interpreter exit, once the exit handlers registered after this one have run, end at once.

    Python's own teardown then does not run: it frees module after module, which with Prefect,
    Great Expectations and pyarrow loaded takes ≈ 0.5 to 1 s and serves nothing once the
    process's work is done. Register it before anything whose exit handler must still run
    (`atexit` runs the last registered first): logging, multiprocessing, Prefect. `code` gives
    the exit status; None leaves the exit to Python.
    """

    def end() -> None:
        status = code()
        if status is None:
            return
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(status)

    atexit.register(end)
