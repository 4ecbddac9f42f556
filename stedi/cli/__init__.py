"""The `stedi` command line: one module per subcommand, each with `register(subparsers)`.

Every subcommand ends in `main`, the one place where an error becomes a one-line message on stderr
and an exit code from `stedi.cli.exit_codes.ExitCode` (0 ok, 1 validation failed, 2 bad input,
3 lakehouse busy, 4 storage or transient, 70 unexpected).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from importlib import import_module
from types import FrameType

from stedi.cli.exit_codes import ExitCode, exit_code, one_line
from stedi.cli.output import json_stdout
from stedi.errors import StediError
from stedi.process import end_at_exit

# Subcommand modules; each defines register(subparsers) and sets `handler` on its parser.
COMMANDS = ("generate", "run", "tables", "quarantine", "query", "ddl", "erase", "privacy_report")
DISTRIBUTION = "stedi-lakehouse"

Handler = Callable[[argparse.Namespace], int]


def version() -> str:
    from importlib import metadata  # ≈ 0.1 s: only when asked

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown (not installed: pip install -e .)"


class _Version(argparse.Action):
    """`--version`, looked up only when given."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(f"{parser.prog} {version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stedi",
        description="STEDI Human Balance lakehouse",
        epilog="exit codes: 0 ok, 1 validation failed, 2 bad input or usage, 3 lakehouse busy, "
        "4 storage or transient error (retry), 70 unexpected error (a bug; rerun with --debug)",
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="print the version and exit")
    parser.add_argument("-v", "--debug", action="store_true", help="print the traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        import_module(f"stedi.cli.{name}").register(sub)
    for command in sub.choices.values():  # `stedi run ... --debug` works as well as `stedi --debug run`
        command.add_argument(
            "-v", "--debug", action="store_true", default=argparse.SUPPRESS, help="print the traceback"
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `stedi` console script: runs a subcommand and returns its exit code."""
    args = build_parser().parse_args(argv)  # usage errors exit with 2 (ExitCode.BAD_INPUT) here
    handler: Handler = args.handler
    with _noting_interrupts() as interrupts:
        try:
            with json_stdout() if _wants_json(args) else nullcontext():
                return handler(args)
        except (Exception, KeyboardInterrupt) as exc:
            # Ctrl-C reaches helper processes too: what surfaces here may be their death, not the interrupt.
            return _failed(args, exc, ExitCode.INTERRUPTED if interrupts else exit_code(exc))


def console() -> None:
    """The `stedi` console script: `main`, then exit with its code without Python's teardown.

    The exit handlers (Prefect's log and event flushes, helper processes' shutdown) still run;
    freeing every loaded module one by one afterwards is skipped.
    """
    status: list[int] = []
    end_at_exit(lambda: status[0] if status else None)  # first registered: runs after all others
    status.append(main())
    sys.exit(status[0])


def _failed(args: argparse.Namespace, exc: BaseException, code: ExitCode) -> int:
    if args.debug:
        traceback.print_exception(exc, file=sys.stderr)
    print(f"stedi {args.command}: {_message(exc, code)}", file=sys.stderr)  # the last line, always
    return int(code)


@contextmanager
def _noting_interrupts() -> Iterator[list[int]]:
    """Note each SIGINT (then raise KeyboardInterrupt as Python does), unless someone else handles it."""
    seen: list[int] = []
    previous = signal.getsignal(signal.SIGINT)
    if (
        previous is not signal.default_int_handler
        or threading.current_thread() is not threading.main_thread()
    ):
        yield seen
        return

    def noted(signum: int, frame: FrameType | None) -> None:
        seen.append(signum)
        signal.default_int_handler(signum, frame)

    signal.signal(signal.SIGINT, noted)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGINT, previous)


def _wants_json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False)) or getattr(args, "format", None) == "json"


def _message(exc: BaseException, code: ExitCode) -> str:
    """One line: our own errors say what to do already; foreign ones get the advice of their class."""
    if code is ExitCode.INTERRUPTED:
        return "interrupted; every table stays at its last committed version: rerun to finish"
    if isinstance(exc, StediError):
        return one_line(exc)
    described = f"{type(exc).__name__}: {one_line(exc)}"
    if code is ExitCode.STORAGE:
        return f"storage error ({described}); check the endpoint, credentials and network, then retry"
    if code is ExitCode.BAD_INPUT:
        return f"{described}; check the lakehouse location"
    return f"unexpected error ({described}); rerun with --debug for the traceback and report it"


if __name__ == "__main__":
    console()
