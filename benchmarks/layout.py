"""Query time of one day's machine_learning_curated rows before and after table maintenance."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.measure import run_measured

DAY_MS = 86_400_000
TABLE = "machine_learning_curated"


def _day_query(uri: str, start: int) -> tuple[float, int]:
    from deltalake import DeltaTable, QueryBuilder

    dt = DeltaTable(uri)
    t0 = time.perf_counter()
    rows = (
        QueryBuilder()
        .register("ml", dt)
        .execute(
            'SELECT * FROM ml WHERE "sensorReadingTime" >= '
            f'{start} AND "sensorReadingTime" < {start + DAY_MS}'
        )
        .read_all()
        .num_rows
    )
    return time.perf_counter() - t0, rows


def _median_day(uri: str) -> int:
    from deltalake import DeltaTable, QueryBuilder

    result = (
        QueryBuilder()
        .register("ml", DeltaTable(uri))
        .execute('SELECT median("sensorReadingTime") AS t FROM ml')
        .read_all()
    )
    middle = int(result.column("t")[0].as_py())
    return middle - middle % DAY_MS


def _timed(uri: str, start: int, repeat: int = 3) -> dict[str, Any]:
    from deltalake import DeltaTable

    runs = [_day_query(uri, start) for _ in range(repeat)]
    return {
        "query_s": round(statistics.median(r[0] for r in runs), 4),
        "rows": runs[0][1],
        "files": len(DeltaTable(uri).file_uris()),
    }


def day_query_seconds(lake: Path, env: dict[str, str]) -> dict[str, Any]:
    """Time the one-day query, run `flows.maintenance` on the lake, time it again."""
    uri = str(lake / "curated" / TABLE)
    start = _median_day(uri)
    before = _timed(uri, start)
    cmd = [sys.executable, "-m", "flows.maintenance", "--lakehouse", str(lake), "--retention-hours", "0"]
    m = run_measured(cmd, env=env)
    if m.returncode != 0:
        print(m.output[-4000:], file=sys.stderr)
        raise SystemExit("maintenance failed")
    after = _timed(uri, start)
    return {
        "day_start_ms": start,
        "before": before,
        "after": after,
        "maintenance": {"wall_s": round(m.wall_s, 2), "peak_rss_mb": round(m.peak_rss_mb)},
    }
