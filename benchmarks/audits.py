"""Time the independent audits of the derived reading tables, per audit and per day, on a built lakehouse.

    .venv/bin/python benchmarks/audits.py --lakehouse /tmp/e10/lake [--days 3] [--repeat 2] [--digest FILE]

Computes the customer facts once (as a worker does once per build), then for `--days` days spread evenly
over machine_learning_curated's days reads that day of accelerometer_trusted, step_trainer_trusted and
machine_learning_curated and runs `audit_accelerometer_trusted`, `audit_step_trainer_trusted` and
`audit_machine_learning_curated` over them as tasks/days.py does (each audited table is the published
table's day: the rule's output). Prints CPU seconds (every thread of the process) and wall seconds per
audit and day, the best of `--repeat` runs, the total extrapolated to every day of the table, and
the CPU seconds of the facts and of each audit's first call (which may prepare what it keeps with
the facts): a worker pays those once per build.
`--digest FILE` writes a hash of every audit column per audit and day, or compares with the FILE
written before a change (the audits' meaning must not change). The lakehouse is only read.

To time another revision of the audits with this script, extract its code and put it first on the path:
    mkdir /tmp/rev && git archive REV stedi tasks | tar -x -C /tmp/rev
    PYTHONPATH=/tmp/rev .venv/bin/python benchmarks/audits.py --digest /tmp/audits.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from stedi.audit import (
    AUDIT_COLUMNS,
    audit_accelerometer_trusted,
    audit_machine_learning_curated,
    audit_step_trainer_trusted,
)
from stedi.policy import Policy
from stedi.registry import REGISTRY
from stedi.schemas import ACCELEROMETER, MS_PER_DAY, STEP_TRAINER
from stedi.storage import Lake
from tasks.audit_inputs import audit_facts

SALT = b"benchmark-salt"


def days_of(data: pads.Dataset, column: str) -> list[date]:
    """The UTC days of `column` (epoch ms) in `data`, in order."""
    times = data.to_table(columns=[column], use_threads=False)[column]
    found = pc.unique(pc.divide(times, MS_PER_DAY)).to_pylist()
    return sorted(datetime.fromtimestamp(d * 86_400, UTC).date() for d in found if d is not None)


def one_day(data: pads.Dataset, table: str, day: date, columns: list[str] | None = None) -> pa.Table:
    start = (day - date(1970, 1, 1)).days * MS_PER_DAY
    time_column = pc.field(str(REGISTRY[table].time_column))
    where = (time_column >= start) & (time_column < start + MS_PER_DAY)
    return data.to_table(columns=columns, filter=where, use_threads=False)


def timed(run: Callable[[], pa.Table], repeat: int) -> tuple[pa.Table, float, float]:
    """The result of `run` and its best CPU and wall seconds over `repeat` calls."""
    best_cpu = best_wall = float("inf")
    result = pa.table({})
    for _ in range(repeat):
        cpu, wall = time.process_time(), time.perf_counter()
        result = run()
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    return result, best_cpu, best_wall


def digest(table: str, frame: pa.Table) -> str:
    """A hash of the audit columns of `frame`, in row order."""
    h = hashlib.sha256()
    for field in AUDIT_COLUMNS[table]:
        column = frame[field.name].combine_chunks()
        h.update(repr(column.to_pylist()).encode())
    return h.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lakehouse", default="/tmp/e10/lake")
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--digest", type=Path)
    args = parser.parse_args()

    lake = Lake(args.lakehouse, {})
    # as tasks/days.py: facts without a salt for the trusted tables, with the salt for the ML table
    cpu = time.process_time()
    facts = audit_facts(lake, Policy.STRICT)
    facts_cpu = time.process_time() - cpu
    salted = audit_facts(lake, Policy.STRICT, salt=SALT)
    salted_cpu = time.process_time() - cpu - facts_cpu
    curated = lake.read("customer_curated")
    print(
        f"facts: {facts.consent.num_rows} customers, {facts.ownership.num_rows} ownership spans; "
        f"{facts_cpu:.2f} CPU s without salt, {salted_cpu:.2f} CPU s with salt (once per worker and build)"
    )
    data = {
        t: lake.dataset(t)
        for t in ("accelerometer_trusted", "step_trainer_trusted", "machine_learning_curated")
    }
    all_days = days_of(data["machine_learning_curated"], "sensorReadingTime")
    chosen = [all_days[(2 * i + 1) * len(all_days) // (2 * args.days)] for i in range(args.days)]
    totals: dict[str, list[float]] = {}
    first: dict[str, float] = {}
    digests: dict[str, str] = {}
    for day in chosen:
        accel = one_day(
            data["accelerometer_trusted"], "accelerometer_trusted", day, ACCELEROMETER.schema.names
        )
        steps = one_day(data["step_trainer_trusted"], "step_trainer_trusted", day, STEP_TRAINER.schema.names)
        ml = one_day(data["machine_learning_curated"], "machine_learning_curated", day)
        runs: dict[str, Callable[[], pa.Table]] = {
            "accelerometer_trusted": partial(audit_accelerometer_trusted, accel, facts),
            "step_trainer_trusted": partial(audit_step_trainer_trusted, steps, facts, curated),
            "machine_learning_curated": partial(audit_machine_learning_curated, ml, salted, steps, accel),
        }
        line = [f"{day}: accel {accel.num_rows} steps {steps.num_rows} ml {ml.num_rows} rows"]
        for table, run in runs.items():
            if table not in first:  # the first call of a worker prepares what it keeps with the facts
                _, first[table], _ = timed(run, 1)
            frame, c, w = timed(run, args.repeat)
            totals.setdefault(table, []).append(c)
            digests[f"{table} {day}"] = digest(table, frame)
            line.append(f"{table} {c:.3f} CPU s / {w:.3f} s")
        print(" | ".join(line))
    print(f"CPU s: mean per day, x {len(all_days)} days, first call of a worker (once per worker and build):")
    whole = whole_first = 0.0
    for table, seconds in totals.items():
        mean = sum(seconds) / len(seconds)
        whole, whole_first = whole + mean, whole_first + first[table]
        print(f"  {table:26} {mean:6.3f}  {mean * len(all_days):7.2f}  {first[table]:6.3f}")
    print(f"  {'all three':26} {whole:6.3f}  {whole * len(all_days):7.2f}  {whole_first:6.3f}")
    if args.digest is not None:
        if args.digest.exists():
            before = json.loads(args.digest.read_text())
            common = [k for k in digests if k in before]
            differ = sorted(k for k in common if before[k] != digests[k])
            if not common:
                print(f"no audit and day in common with {args.digest}: use the same --days")
            else:
                print(
                    f"{len(common)} audits of days compared with {args.digest}:",
                    f"DIFFER {differ}" if differ else "identical",
                )
        else:
            args.digest.write_text(json.dumps(digests, indent=1))
            print("digest written to", args.digest)


if __name__ == "__main__":
    main()
