"""Print benchmark results (JSON files from benchmarks/run.py) as the README's markdown table."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

STEPS = ("full", "reference", "incremental", "noop", "dask_1_workers", "dask_2_workers")


def rows(size: dict[str, Any]) -> list[str]:
    steps, ref = size["steps"], size["steps"]["reference"]
    out = []
    for name in STEPS:
        if name not in steps:
            continue
        s = steps[name]
        cpu = "-" if s["cpu_s"] is None else f"{s['cpu_s']:.1f}"
        ratio = f"{s['wall_s'] / ref['wall_s']:.1f}x"
        if s["cpu_s"] is not None and ref["cpu_s"]:
            ratio += f" ({s['cpu_s'] / ref['cpu_s']:.1f}x cpu)"
        out.append(
            f"| {size['size']} | {name} | {s['wall_s']:.1f} | {cpu} | {s['peak_rss_mb']:,} | {ratio} |"
        )
    layout = size["layout"]
    out.append(
        f"| {size['size']} | one-day ML query, as built → after maintenance | "
        f"{layout['before']['query_s']:.3f} → {layout['after']['query_s']:.3f} | | | "
        f"{layout['before']['files']} → {layout['after']['files']} files |"
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results", type=Path, nargs="+")
    args = parser.parse_args()
    print("| size | step | wall s | cpu s | peak RSS MB | vs reference |")
    print("|---|---|---:|---:|---:|---|")
    for path in args.results:
        for size in json.loads(path.read_text())["sizes"]:
            for line in rows(size):
                print(line)


if __name__ == "__main__":
    main()
