"""`make bench`: time `stedi run` against the DuckDB reference at named sizes.

For each size, in one run: (a) full build (strict, validation on), (b) the DuckDB reference on the
same files, (c) the maintenance flow, then an incremental run after adding 1% new files, (d) a
no-op rerun, and (e) the query time of one day's machine_learning_curated rows before and after
table maintenance. With two sizes or more, the incremental slope between the smallest and the
largest is printed.
Results are printed and written as JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.layout import day_query_seconds
from benchmarks.measure import Measurement, run_measured
from benchmarks.sizes import REPO, SIZES, Size, base_landing, extra_landing, link_tree

RESULTS = Path(__file__).with_name("results")
PYTHON = sys.executable
STEDI = str(Path(PYTHON).with_name("stedi"))


def machine() -> dict[str, Any]:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(mem_kb / 2**20, 1),
        "load_average_at_start": list(os.getloadavg()),
        "python": platform.python_version(),
        "commit": commit,
    }


def bench_env(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PREFECT_HOME": str(work / "prefect-home"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            # A loaded machine can take longer than the default 20 s to start the temporary server.
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
            "STEDI_SUBJECT_SALT": "benchmark-salt",
            "PYTHONPATH": str(REPO),
        }
    )
    return env


def step(name: str, m: Measurement, results: dict[str, Any]) -> None:
    if m.returncode != 0:
        print(m.output[-4000:], file=sys.stderr)
        raise SystemExit(f"{name} failed with exit code {m.returncode}")
    results[name] = {
        "wall_s": round(m.wall_s, 2),
        "cpu_s": round(m.cpu_s, 2),
        "peak_rss_mb": round(m.peak_rss_mb),
    }
    print(f"  {name:<12} {m.wall_s:8.1f} s wall {m.cpu_s:8.1f} s cpu {m.peak_rss_mb:8.0f} MB", flush=True)


def flow_times(name: str, lake: Path, results: dict[str, Any]) -> None:
    """The flow's own wall time and the Great Expectations part of it, from `--summary-json`."""
    summary = lake.parent / "summary.json"
    if summary.exists():
        document = json.loads(summary.read_text())
        results[name] |= {"flow_s": document["flow_s"], "validation_s": document["validation_s"]}
        summary.unlink()
        flow, checks = document["flow_s"], document["validation_s"]
        print(f"  {'':<12} flow {flow:.1f} s, of which validation {checks:.1f} s", flush=True)


def stedi_run(
    landing: Path, lake: Path, env: dict[str, str], *extra: str, profile: Path | None = None
) -> Measurement:
    cmd = [STEDI, "run", "--landing", str(landing), "--lakehouse", str(lake), "--policy", "strict", *extra]
    cmd += ["--summary-json", str(lake.parent / "summary.json")]
    if profile is not None:
        # 20 samples a second costs a few percent; the raw output feeds benchmarks/profile_summary.py.
        spy = str(Path(PYTHON).with_name("py-spy"))
        cmd = [spy, "record", "-r", "20", "-f", "raw", "--nonblocking", "-o", str(profile), "--", *cmd]
    return run_measured(cmd, env=env, cwd=str(REPO))


def warm_prefect(work: Path, env: dict[str, str], data: Path) -> None:
    """The first run in a new PREFECT_HOME creates its database (about 15 s): not part of any timing."""
    if (work / "prefect-home").exists():
        return
    landing = base_landing(SIZES["course"], data)
    m = stedi_run(landing, work / "warmup-lake", env)
    shutil.rmtree(work / "warmup-lake", ignore_errors=True)
    if m.returncode != 0:
        print(m.output[-4000:], file=sys.stderr)
        raise SystemExit("warm-up run failed")


def bench_size(
    size: Size, root: Path, env: dict[str, str], profile: bool = False, dask: bool = False
) -> dict[str, Any]:
    data = root / "data"
    print(f"{size.name}: preparing landing data", flush=True)
    t0 = time.perf_counter()
    base = base_landing(size, data)
    extra = extra_landing(size, data)
    prepared = time.perf_counter() - t0
    work = root / "work" / size.name
    shutil.rmtree(work, ignore_errors=True)
    landing, lake, ref = work / "landing", work / "lake", work / "reference"
    files = link_tree(base, landing)
    landing_bytes = sum(p.stat().st_size for p in landing.rglob("*.json"))
    print(f"{size.name}: {files} files, {landing_bytes / 2**20:.0f} MB NDJSON", flush=True)
    steps: dict[str, Any] = {}
    spy = RESULTS / f"profile-{size.name}-full.txt" if profile else None
    step("full", stedi_run(landing, lake, env, profile=spy), steps)
    flow_times("full", lake, steps)
    if spy is not None:
        # py-spy does not pass its child's CPU time on to getrusage: only wall and RSS count here.
        steps["full"]["cpu_s"] = None
    ref_cmd = [PYTHON, "-m", "benchmarks.reference", "--landing", str(landing), "--out", str(ref)]
    step("reference", run_measured(ref_cmd, env=env, cwd=str(REPO)), steps)
    counts = table_counts(lake, ref)
    # The maintenance flow first (compaction, Z-order, vacuum): the incremental run that follows
    # must not pay for it with a rebuild.
    maintenance = [PYTHON, "-m", "flows.maintenance", "--lakehouse", str(lake)]
    step("maintenance", run_measured(maintenance, env=env, cwd=str(REPO)), steps)
    added = link_tree(extra, landing)
    step("incremental", stedi_run(landing, lake, env), steps)
    flow_times("incremental", lake, steps)
    step("noop", stedi_run(landing, lake, env), steps)
    layout = day_query_seconds(lake, env)
    if dask:
        # Two runs of the full build on a local Dask cluster: 1 worker, then 2 (validation parts in parallel).
        for workers in (1, 2):
            shutil.rmtree(lake, ignore_errors=True)
            run = stedi_run(landing, lake, env, "--dask", "--dask-workers", str(workers))
            step(f"dask_{workers}_workers", run, steps)
    full, reference = steps["full"], steps["reference"]
    ratios = {
        "full_over_reference_wall": round(full["wall_s"] / reference["wall_s"], 2),
        "full_over_reference_cpu": (
            None if full["cpu_s"] is None else round(full["cpu_s"] / reference["cpu_s"], 2)
        ),
        "full_over_reference_rss": round(full["peak_rss_mb"] / max(1, reference["peak_rss_mb"]), 2),
        "incremental_over_full": round(steps["incremental"]["wall_s"] / full["wall_s"], 3),
        "noop_over_full": round(steps["noop"]["wall_s"] / full["wall_s"], 3),
    }
    if "flow_s" in full and "flow_s" in steps["incremental"]:
        ratios["validation_share_of_full"] = round(full["validation_s"] / full["wall_s"], 3)
        ratios["incremental_flow_over_full_flow"] = round(steps["incremental"]["flow_s"] / full["flow_s"], 3)
    print(f"  ratios: {ratios}")
    print(f"  layout: {layout}", flush=True)
    return {
        "size": size.name,
        "accelerometer_readings_requested": size.readings,
        "landing_files": files,
        "landing_mb": round(landing_bytes / 2**20),
        "added_files": added,
        "data_prepare_s": round(prepared, 1),
        "steps": steps,
        "ratios": ratios,
        "rows": counts,
        "layout": layout,
    }


def table_counts(lake: Path, ref: Path) -> dict[str, dict[str, int]]:
    """Rows per table in the lakehouse and in the reference output: the two must agree."""
    import pyarrow.parquet as pq
    from deltalake import DeltaTable

    out: dict[str, dict[str, int]] = {}
    for parquet in sorted(ref.glob("*.parquet")):
        table = parquet.stem
        zone = "curated" if table.endswith("curated") else "trusted"
        dt = DeltaTable(str(lake / zone / table))
        stedi = sum(int(n) for n in dt.get_add_actions(flatten=True).column("num_records").to_pylist())
        out[table] = {"stedi": stedi, "reference": pq.ParquetFile(parquet).metadata.num_rows}
    mismatched = {t: c for t, c in out.items() if c["stedi"] != c["reference"]}
    if mismatched:
        print(f"  WARNING: row counts differ from the reference: {mismatched}", flush=True)
    return out


def incremental_slope(sizes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """How incremental cost grows with the lake, between 1m (else the smallest size run) and the largest.

    T_inc(large) - T_inc(small) against T_full(large) - T_full(small): the same 1% delivery should
    cost about the same in both lakes, so the target is at most 0.05.
    """
    if len(sizes) < 2:
        return None
    # The target is stated between the 1M and the 10M lake: use 1M as the small one when it ran.
    small = next((s for s in sizes[:-1] if s["size"] == "1m"), sizes[0])
    large = sizes[-1]

    def wall(size: dict[str, Any], name: str) -> float:
        return float(size["steps"][name]["wall_s"])

    full = wall(large, "full") - wall(small, "full")
    inc = wall(large, "incremental") - wall(small, "incremental")
    return {
        "between": [small["size"], large["size"]],
        "incremental_growth_s": round(inc, 2),
        "full_growth_s": round(full, 2),
        "slope": round(inc / full, 3) if full > 0 else None,
        "target": 0.05,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sizes", nargs="*", default=["course", "1m"], choices=sorted(SIZES))
    parser.add_argument("--profile", action="store_true", help="py-spy profile of each full build")
    parser.add_argument(
        "--dask", action="store_true", help="also time the full build on 1 and 2 Dask workers"
    )
    parser.add_argument(
        "--dir", type=Path, default=Path(os.environ.get("STEDI_BENCH_DIR", "/tmp/stedi-bench"))
    )
    args = parser.parse_args()
    root: Path = args.dir.resolve()
    RESULTS.mkdir(exist_ok=True)
    env = bench_env(root)
    warm_prefect(root, env, root / "data")
    report = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "sizes": [bench_size(SIZES[name], root, env, args.profile, args.dask) for name in args.sizes],
    }
    slope = incremental_slope(report["sizes"])
    if slope is not None:
        report["incremental_slope"] = slope
        print(f"incremental slope: {slope}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    for name in (f"bench-{stamp}.json", "latest.json"):
        (RESULTS / name).write_text(json.dumps(report, indent=2) + "\n")
    print(f"results: {RESULTS / f'bench-{stamp}.json'}")


if __name__ == "__main__":
    main()
