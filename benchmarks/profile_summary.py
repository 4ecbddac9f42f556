"""Summarise a py-spy raw profile (`py-spy record -f raw`) of `stedi run` by flow step and by hot spot."""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# Frames that name a step of the flow, in the order the flow runs them.
STEP = re.compile(r"^(\w+) \((?:tasks|flows)/[\w/]+\.py:\d+\)$")
OURS = ("stedi/", "tasks/", "flows/")


def load(path: Path) -> list[tuple[list[str], int]]:
    samples = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack:
            samples.append((stack.split(";"), int(count)))
    return samples


def phase(frames: list[str]) -> str:
    joined = ";".join(frames)
    if "great_expectations/__init__.py" in joined:
        return "import great_expectations"
    if "FlowRunEngine.start" in joined or "server.py" in joined:
        return "Prefect start-up (temporary server)"
    steps = [m.group(1) for f in frames if (m := STEP.match(f))]
    tasks = [s for s in steps if s not in {"stedi_lakehouse", "run", "main", "<module>"}]
    if tasks:
        inner = "validate" if "stedi/validation.py" in joined else "write" if "Lake.write" in joined else ""
        return tasks[0] + (f" / {inner}" if inner else "")
    if "importlib" in joined or "<module>" in frames[-1]:
        return "imports"
    return "other (Prefect engine, threads)"


def summarise(path: Path, top: int) -> str:
    samples = load(path)
    total = sum(n for _, n in samples)
    phases: Counter[str] = Counter()
    spots: Counter[str] = Counter()
    for frames, n in samples:
        phases[phase(frames)] += n
        ours = [f for f in frames if any(o in f for o in OURS)]
        if ours:
            spots[ours[-1]] += n
    lines = [f"{total} samples", "", "| phase | share |", "|---|---:|"]
    lines += [f"| {p} | {n / total:.1%} |" for p, n in phases.most_common()]
    lines += ["", "| innermost frame of ours | share |", "|---|---:|"]
    lines += [f"| `{s}` | {n / total:.1%} |" for s, n in spots.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    print(summarise(args.profile, args.top))


if __name__ == "__main__":
    main()
