"""Stderr while a flow runs in the CLI: log lines without tracebacks, and progress on a terminal.

- Tracebacks: the flow engine logs a failed run's traceback; on the console a failure is one line
  (the CLI's own message says what to do), the traceback only with `--debug`. The Prefect API
  still receives every log record whole, so the UI keeps the traceback.
- Progress: one line per table with rows and rows/s (a rich live display; rich comes with Prefect),
  only when stderr is a terminal. Log handlers that write to stderr are pointed through it, so log
  lines scroll above the table lines instead of tearing them.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, TextIO

from rich.console import Console
from rich.progress import Progress, ProgressColumn, Task, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from stedi import progress


@contextmanager
def run_console(show_progress: bool, debug: bool) -> Iterator[None]:
    """Stderr for the block: tracebacks only when `debug`; progress when asked and on a terminal."""
    with ExitStack() as stack:
        if not debug:
            stack.enter_context(_without_tracebacks(_stderr_handlers(sys.stderr)))
        if show_progress and sys.stderr.isatty():
            original = sys.stderr
            display = RowsDisplay(Console(file=original, markup=False, highlight=False))
            stack.enter_context(display.progress)  # from here on sys.stderr is rich's proxy
            stack.enter_context(_logs_through(_stderr_handlers(original), sys.stderr))
            stack.enter_context(progress.activated(display))
        yield


class _Rate(ProgressColumn):
    """Rows per second since the table started (its average once finished)."""

    def render(self, task: Task) -> Text:
        elapsed = task.finished_time if task.finished_time is not None else task.elapsed
        if not elapsed or elapsed < 0.5 or not task.completed:
            return Text("")
        return Text(f"{task.completed / elapsed:>12,.0f} rows/s", style="progress.data.speed")


class RowsDisplay:
    """A `progress.Sink` drawing one line per table; thread-safe like rich's Progress."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("{task.description:<26}", markup=False),
            TextColumn("{task.completed:>14,.0f} rows", markup=False),
            _Rate(),
            TimeElapsedColumn(),
            console=console,
            redirect_stdout=False,  # stdout carries the summary (or the --json document), nothing else
            redirect_stderr=True,
            refresh_per_second=4,
        )
        self._tasks: dict[str, TaskID] = {}
        self._rows: dict[str, int] = {}
        self._lock = threading.Lock()

    def advance(self, table: str, rows: int) -> None:
        with self._lock:
            if table not in self._tasks:
                self._tasks[table] = self.progress.add_task(table, total=None)
            self._rows[table] = self._rows.get(table, 0) + rows
            self.progress.update(self._tasks[table], completed=self._rows[table])

    def finish(self, table: str) -> None:
        self.advance(table, 0)
        with self._lock:  # a total reached marks the task finished: its rate freezes at the average
            self.progress.update(self._tasks[table], total=self._rows[table])


# A handler that writes to stderr, and what it writes through: its stream or its rich console.
_Target = tuple[logging.Handler, Any, str]


def _stderr_handlers(stream: TextIO) -> list[_Target]:
    """Every log handler writing to `stream`, with the object and attribute that hold the stream."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    handlers = {h for lg in loggers if isinstance(lg, logging.Logger) for h in lg.handlers}
    targets: list[_Target] = []
    for handler in handlers:
        console = getattr(handler, "console", None)  # Prefect's console handler prints through rich
        if isinstance(console, Console) and console.file is stream:
            targets.append((handler, console, "file"))
        elif isinstance(handler, logging.StreamHandler) and handler.stream is stream:
            targets.append((handler, handler, "stream"))
    return targets


@contextmanager
def _logs_through(targets: list[_Target], proxy: TextIO) -> Iterator[None]:
    """Point the handlers at `proxy` (rich's stderr proxy, which prints above the live display)."""
    saved = [(holder, attribute, getattr(holder, attribute)) for _, holder, attribute in targets]
    for _, holder, attribute in targets:
        setattr(holder, attribute, proxy)
    try:
        yield
    finally:
        for holder, attribute, value in saved:
            setattr(holder, attribute, value)


class _NoTraceback(logging.Formatter):
    """Formats a record as `inner` does, without its traceback."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        if not record.exc_info:
            return self.inner.format(record)
        # Other handlers (the API's) format the same record later: restore what was taken off.
        saved = record.exc_info, record.exc_text
        record.exc_info, record.exc_text = None, None
        try:
            return self.inner.format(record)
        finally:
            record.exc_info, record.exc_text = saved


@contextmanager
def _without_tracebacks(targets: list[_Target]) -> Iterator[None]:
    handlers = [handler for handler, _, _ in targets]
    saved = [(h, h.formatter) for h in handlers]
    for handler in handlers:
        handler.setFormatter(_NoTraceback(handler.formatter or logging.Formatter()))
    try:
        yield
    finally:
        for handler, formatter in saved:
            handler.setFormatter(formatter)
