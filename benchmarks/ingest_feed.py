"""CPU, wall time and peak RSS of the landing ingest of some feeds, outside Prefect.

    python -m benchmarks.ingest_feed LANDING LAKEHOUSE accelerometer step_trainer

The lakehouse folder is deleted first. Great Expectations is imported before the clock starts, as
`stedi run` does in the background; Prefect's run logger is replaced by a plain logger.
"""

from __future__ import annotations

import logging
import resource
import shutil
import sys
import time


def main(argv: list[str]) -> None:
    landing, lakehouse, *feeds = argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    log = logging.getLogger("ingest")
    import tasks.landing
    import tasks.publish
    from stedi.config import RunConfig
    from stedi.schemas import FEEDS_BY_NAME
    from stedi.validation import _batch_definition

    tasks.landing.get_run_logger = lambda: log  # type: ignore[assignment]
    tasks.publish.get_run_logger = lambda: log  # type: ignore[assignment]
    _batch_definition()  # imports Great Expectations
    shutil.rmtree(lakehouse, ignore_errors=True)
    config = RunConfig.build(landing, lakehouse)
    for name in feeds:
        before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        tasks.landing.ingest_feed(config, FEEDS_BY_NAME[name], "benchmark")
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        print(
            f"{name}: {time.perf_counter() - start:.1f} s wall, {cpu:.1f} s CPU, "
            f"peak RSS {after.ru_maxrss // 1024} MB",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
