"""Full builds on a local Dask cluster of 1 and of 2 workers (`python -m benchmarks.dask_speedup 10m`)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.run import RESULTS, bench_env, machine, stedi_run, step
from benchmarks.sizes import SIZES, base_landing, link_tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("size", choices=sorted(SIZES))
    parser.add_argument(
        "--dir", type=Path, default=Path(os.environ.get("STEDI_BENCH_DIR", "/tmp/stedi-bench"))
    )
    args = parser.parse_args()
    root: Path = args.dir.resolve()
    env = bench_env(root)
    work = root / "work" / f"{args.size}-dask"
    shutil.rmtree(work, ignore_errors=True)
    link_tree(base_landing(SIZES[args.size], root / "data"), work / "landing")
    steps: dict[str, dict[str, float]] = {}
    print(f"{args.size}: full builds on a local Dask cluster", flush=True)
    for workers in (1, 2):
        shutil.rmtree(work / "lake", ignore_errors=True)
        run = stedi_run(work / "landing", work / "lake", env, "--dask", "--dask-workers", str(workers))
        step(f"dask_{workers}_workers", run, steps)
    speedup = steps["dask_1_workers"]["wall_s"] / steps["dask_2_workers"]["wall_s"]
    print(f"  speedup of 2 workers over 1: {speedup:.2f}x")
    RESULTS.mkdir(exist_ok=True)
    report = {"machine": machine(), "size": args.size, "steps": steps, "speedup_2_over_1": round(speedup, 2)}
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"dask-{args.size}-{stamp}.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
