"""One writer at a time per lakehouse: what build, backfill, erasure and maintenance all hold.

Two layers:
- the lakehouse lease (stedi/lease.py), kept in the lakehouse itself, local or on S3: this is
  what guarantees exclusion, whoever starts the writer (CLI, deployment, a test);
- when the writer runs against a Prefect server that has the global concurrency limit
  `stedi-lakehouse-writer` (created by `python -m deployments.setup`), a slot of that limit first,
  so that runs of different deployments queue in Prefect (visible under Concurrency) instead of
  polling the lease.

The wait defaults to 10 minutes in flows; the CLI narrows it with `waiting_at_most` (`--wait`).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from typing import Any

from stedi.lease import LakehouseBusyError, LeaseRecord, current_holder, lakehouse_lease

__all__ = ["WRITER_LIMIT", "LakehouseBusyError", "lakehouse_lock", "waiting_at_most"]

WRITER_LIMIT = "stedi-lakehouse-writer"
DEFAULT_WAIT_SECONDS = 600.0

Logger = logging.Logger | logging.LoggerAdapter[Any]

_wait_seconds: ContextVar[float | None] = ContextVar("stedi_lease_wait_seconds", default=None)


@contextmanager
def waiting_at_most(seconds: float | None) -> Iterator[None]:
    """Writers started inside the block wait at most `seconds` for the lakehouse (None: the default)."""
    token = _wait_seconds.set(seconds)
    try:
        yield
    finally:
        _wait_seconds.reset(token)


@contextmanager
def lakehouse_lock(
    lakehouse: str,
    options: Mapping[str, str] | None = None,
    purpose: str = "stedi build",
    wait_seconds: float | None = None,
    poll: float = 0.5,
) -> Iterator[LeaseRecord]:
    """Hold the writer slot (on a Prefect server that has the limit) and the lakehouse lease."""
    wait = wait_seconds if wait_seconds is not None else _wait_seconds.get()
    wait = DEFAULT_WAIT_SECONDS if wait is None else max(0.0, wait)
    log = _logger()
    deadline = time.monotonic() + wait
    with ExitStack() as stack:
        if "prefect" in sys.modules and writer_limit_exists():
            stack.enter_context(_writer_slot(lakehouse, options, wait, log))
        remaining = max(0.0, deadline - time.monotonic())
        yield stack.enter_context(
            lakehouse_lease(lakehouse, options, _owner(purpose), remaining, poll=poll, log=log)
        )


def _owner(purpose: str) -> str:
    """The purpose, and the Prefect flow run when there is one (its name holds no personal data)."""
    if "prefect" not in sys.modules:
        return purpose
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    run = context.flow_run if context else None
    return f"{purpose}, flow run {run.name} ({run.id})" if run else purpose


def _logger() -> Logger:
    """The flow run's logger inside a flow (the message shows in the Prefect UI), else stedi's."""
    if "prefect" in sys.modules:
        from prefect.context import FlowRunContext, TaskRunContext
        from prefect.logging import get_run_logger

        if FlowRunContext.get() or TaskRunContext.get():
            return get_run_logger()
    return logging.getLogger("stedi.lease")


@contextmanager
def _writer_slot(
    lakehouse: str, options: Mapping[str, str] | None, wait: float, log: Logger
) -> Iterator[None]:
    """A slot of WRITER_LIMIT on the Prefect server, waiting at most `wait` seconds."""
    from prefect.concurrency.sync import concurrency

    holder = current_holder(lakehouse, options)
    if holder is not None:
        log.warning("lakehouse %s is held by %s; queueing for %s", lakehouse, holder.describe(), WRITER_LIMIT)
    slot = concurrency(
        WRITER_LIMIT, occupy=1, timeout_seconds=wait, strict=True, raise_on_lease_renewal_failure=False
    )
    with ExitStack() as stack:
        try:
            stack.enter_context(slot)
        except TimeoutError:
            raise LakehouseBusyError(
                f"lakehouse {lakehouse} is busy: another writer holds the Prefect concurrency limit "
                f"{WRITER_LIMIT} (waited {wait:.0f} s); see Concurrency in the Prefect UI, try again "
                "when it has finished, or wait longer with --wait SECONDS"
            ) from None
        yield


def writer_limit_exists() -> bool:
    """True when a Prefect server API is configured and has the limit WRITER_LIMIT."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        return False
    with get_client(sync_client=True) as client:
        try:
            limit = client.read_global_concurrency_limit_by_name(WRITER_LIMIT)
        except ObjectNotFound:
            return False
    return bool(limit.active)
