"""The `stedi` exit codes, one per class of failure, and the one mapping from exceptions to them.

Every subcommand exits through `stedi.cli.main`, which calls `exit_code` on whatever escaped, so
a scheduler can decide from the code alone whether to retry, wait or page someone.
"""

from __future__ import annotations

import re
import sys
from enum import IntEnum

from stedi.errors import (
    InputError,
    LakehouseBusyError,
    TerminalError,
    TransientError,
    ValidationFailedError,
)


class ExitCode(IntEnum):
    """Exit codes of every `stedi` subcommand.

    | code | name              | meaning                                                | what to do         |
    |-----:|-------------------|--------------------------------------------------------|--------------------|
    |    0 | OK                | done                                                   | nothing            |
    |    1 | VALIDATION_FAILED | a blocking expectation failed; table left unpublished  | fix data or rule   |
    |    2 | BAD_INPUT         | bad arguments, paths, layout or settings; usage errors | fix the command    |
    |    3 | BUSY              | another writer holds the lakehouse                     | retry later        |
    |    4 | STORAGE           | storage or other transient failure (network, S3, API)  | retry with backoff |
    |   70 | UNEXPECTED        | an error the code did not foresee; `--debug` shows it  | report the bug     |
    |  130 | INTERRUPTED       | stopped with Ctrl-C; tables stay at their last commit  | rerun              |
    """

    OK = 0
    VALIDATION_FAILED = 1
    BAD_INPUT = 2  # argparse exits with 2 on a usage error too
    BUSY = 3
    STORAGE = 4
    UNEXPECTED = 70  # EX_SOFTWARE of sysexits.h
    INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


def exit_code(exc: BaseException) -> ExitCode:
    """The exit code for an exception that ended a command (its explicit causes decide when it is unknown)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        code = _classify(current)
        if code is not None:
            return code
        current = current.__cause__
    return ExitCode.UNEXPECTED


def _classify(exc: BaseException) -> ExitCode | None:
    # Order matters: the specific terminal classes before TerminalError.
    if isinstance(exc, ValidationFailedError):
        return ExitCode.VALIDATION_FAILED
    if isinstance(exc, LakehouseBusyError):
        return ExitCode.BUSY
    if isinstance(exc, InputError | TerminalError):
        return ExitCode.BAD_INPUT
    if isinstance(exc, TransientError | OSError):  # also TimeoutError, ConnectionError, pyarrow ArrowIOError
        return ExitCode.STORAGE
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    return _classify_foreign(exc)


def _classify_foreign(exc: BaseException) -> ExitCode | None:
    """deltalake's and the Prefect client's errors, without importing either just to compare."""
    delta = sys.modules.get("deltalake.exceptions")  # object-store failures come as OSError already
    if delta is not None and isinstance(exc, delta.CommitFailedError):
        return ExitCode.STORAGE  # a concurrent commit won: retrying is the answer
    if delta is not None and isinstance(exc, delta.TableNotFoundError | delta.SchemaMismatchError):
        return ExitCode.BAD_INPUT  # the location holds no table, or someone else's
    httpx = sys.modules.get("httpx")
    if httpx is not None and isinstance(exc, httpx.TransportError):
        return ExitCode.STORAGE  # the Prefect API did not answer
    return None


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_RUST_BACKTRACE = re.compile(r"\n\s*0: .*", re.DOTALL)  # deltalake appends its frames to some messages


def one_line(exc: BaseException, limit: int = 400) -> str:
    """The exception's message on one line: object-store errors come as colored multi-line chains."""
    text = _RUST_BACKTRACE.sub("", _ANSI.sub("", str(exc)))
    text = " ".join(text.replace("↳", " ").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
