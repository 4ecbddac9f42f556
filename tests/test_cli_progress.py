"""Progress events reach a display only in the process that activated it; console logs lose tracebacks."""

from __future__ import annotations

import io
import logging
import os
import sys

from rich.console import Console

from stedi import progress
from stedi.cli.console import RowsDisplay, _NoTraceback
from stedi.errors import ValidationFailedError


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, int]] = []

    def advance(self, table: str, rows: int) -> None:
        self.events.append(("advance", table, rows))

    def finish(self, table: str) -> None:
        self.events.append(("finish", table, 0))


def test_events_without_a_display_do_nothing() -> None:
    assert not progress.active()
    progress.advance("customer_landing", 10)  # no display: must not fail
    progress.finish("customer_landing")


def test_events_reach_the_active_display_and_stop_with_it() -> None:
    recorder = Recorder()
    with progress.activated(recorder):
        assert progress.active()
        progress.advance("customer_landing")
        progress.advance("customer_landing", 20)
        progress.finish("customer_landing")
    progress.advance("customer_landing", 5)
    assert recorder.events == [
        ("advance", "customer_landing", 0),
        ("advance", "customer_landing", 20),
        ("finish", "customer_landing", 0),
    ]


def test_a_forked_worker_does_not_draw_on_the_parents_display() -> None:
    recorder = Recorder()
    with progress.activated(recorder):
        pid = os.fork()
        if pid == 0:  # the child: a worker process forked while the display was active
            os._exit(1 if progress.active() else 0)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_the_display_counts_rows_per_table_and_freezes_a_finished_table() -> None:
    out = io.StringIO()
    display = RowsDisplay(Console(file=out, width=100, markup=False, highlight=False))
    with display.progress:
        display.advance("accelerometer_landing", 1_000)
        display.advance("accelerometer_landing", 234)
        display.finish("accelerometer_landing")
        display.advance("step_trainer_landing", 7)
    lines = [line.split() for line in out.getvalue().splitlines() if line.strip()]
    assert [line[:3] for line in lines[-2:]] == [
        ["accelerometer_landing", "1,234", "rows"],
        ["step_trainer_landing", "7", "rows"],
    ]
    assert display.progress.tasks[0].finished and not display.progress.tasks[1].finished


def test_console_log_lines_lose_the_traceback_other_handlers_keep_it() -> None:
    console, api = io.StringIO(), io.StringIO()
    quiet = logging.StreamHandler(console)
    quiet.setFormatter(_NoTraceback(logging.Formatter("%(levelname)s %(message)s")))
    whole = logging.StreamHandler(api)
    whole.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test_cli_progress.quiet")
    logger.propagate = False
    logger.handlers = [quiet, whole]
    try:
        raise ValidationFailedError("customer_landing", ["expect_x failed"])
    except ValidationFailedError:
        logger.exception("Encountered exception during execution")
    finally:
        logger.handlers = []
    assert console.getvalue() == "ERROR Encountered exception during execution\n"
    assert "Traceback (most recent call last)" in api.getvalue()
    assert sys.exc_info() == (None, None, None)
