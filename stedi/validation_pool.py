"""Great Expectations in a process of its own, beside the flow.

Importing GX costs ≈ 1.7 s of CPU (≈ 3 s without `stedi.gx_imports`, which this process uses) and
its checks hold the GIL, so in the flow process they add up with everything else. One spawned
worker process imports GX as soon as a run starts (while the flow process imports Prefect and the
temporary server boots) and then runs validation parts while the flow process parses, joins and
writes the next data: the two cores work at the same time.
Parts travel as Arrow tables (pickled with their buffers); results are small counts. At the end of
a run the same process writes the run's results to the GX stores and renders Data Docs
(stedi.data_docs.record_run, once per run), so GX is imported once and nothing else writes the stores.

The process ends without Python's teardown once the pool lets it go (≈ 1 s with GX loaded), and
`abandon` kills it while it is still importing GX (a run that turned out to need no validation).

Without `start()` (unit tests, library use, task-runner workers) `submit` returns None and callers
validate in-process; `map_parts` does either, so a unit of days built in the flow process validates
here too and the flow process never imports GX.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
P = TypeVar("P")

_pool: ProcessPoolExecutor | None = None
_warmed: Future[int] | None = None  # done once the process has imported GX


def _warm(parent: int) -> None:
    from stedi.process import die_with_parent, end_at_exit

    die_with_parent(parent)
    end_at_exit(lambda: 0)  # before GX is imported: once the pool lets the process go, it ends at once
    from stedi.gx_imports import skip_unused

    skip_unused()  # this process is ours: GX without the libraries its validation does not use
    from stedi.validation import _batch_definition

    _batch_definition()


def start() -> None:
    """Start the validation process now (idempotent); its GX import runs in the background."""
    global _pool, _warmed
    if _pool is None:
        _pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_warm,
            initargs=(os.getpid(),),
        )
        _warmed = _pool.submit(int)  # the worker is spawned on the first submit: do it now


def submit(fn: Callable[..., T], *args: Any) -> Future[T] | None:
    """Run `fn(*args)` in the validation process; None when it was not started."""
    return None if _pool is None else _pool.submit(fn, *args)


def map_parts(fn: Callable[[P], T], parts: Sequence[P]) -> list[T]:
    """`fn` over `parts` in the validation process when it runs, else here, one after the other."""
    pooled = [submit(fn, p) for p in parts]
    return [f.result() if f is not None else fn(p) for f, p in zip(pooled, parts, strict=True)]


def abandon() -> None:
    """Stop the validation process without waiting for its import of GX: for a run that is over.

    A process still importing GX (a run that turned out to need no validation) is killed; one
    that has worked is stopped in order (it ends at once, see `_warm`), so the semaphores its
    libraries created are released.
    """
    if _pool is not None and _warmed is not None and not _warmed.done():
        kill_workers = getattr(_pool, "kill_workers", None)  # Python 3.14
        if kill_workers is not None:
            kill_workers()
        else:
            for process in list((_pool._processes or {}).values()):  # no public way before Python 3.14
                process.kill()
    stop()


def stop() -> None:
    global _pool, _warmed
    pool, _pool, _warmed = _pool, None, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
