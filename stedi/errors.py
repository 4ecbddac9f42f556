"""One root exception with terminal and transient subclasses, so callers decide retries by type.

`stedi.cli.exit_codes` maps these classes to the CLI's exit codes; a new class that should get its
own code is added there too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stedi.validation import ValidationReport


class StediError(Exception):
    """Root of every error this project raises on purpose."""


class TransientError(StediError):
    """A failure that may pass on its own (object-store timeout, concurrent commit): worth a retry."""


class TerminalError(StediError):
    """A failure that a retry cannot fix: bad input, broken data, failed validation."""


class InputError(TerminalError, ValueError):
    """The user gave something unusable; the message says what and how to fix it."""


class LayoutError(InputError):
    """The landing root does not have the expected folder layout."""


class SchemaConflictError(TerminalError):
    """A Delta table on disk has a schema this pipeline cannot write to."""


class LakehouseBusyError(TerminalError):
    """Another writer holds the lakehouse for longer than this one was willing to wait."""


class ValidationFailedError(TerminalError):
    """A blocking Great Expectations check failed; the table was not published.

    `report` is the table's validation report (counts and rule descriptions, no values from the
    data) when the check that raised had one: the flow records the stopped run in Data Docs with it.
    """

    def __init__(self, table: str, failures: list[str], report: ValidationReport | None = None) -> None:
        self.table = table
        self.failures = failures
        self.report = report
        super().__init__(f"{table}: {'; '.join(failures)}")

    def __reduce__(
        self,
    ) -> tuple[type[ValidationFailedError], tuple[str, list[str], ValidationReport | None]]:
        # Tasks in worker processes send their exception back pickled; the default reduction
        # would call __init__ with the message alone and fail, losing the class on the way.
        return (type(self), (self.table, self.failures, self.report))
