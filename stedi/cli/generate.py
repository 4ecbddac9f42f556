"""`stedi generate`: seeded synthetic landing data."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("generate", help="write seeded synthetic landing data shaped like the course data")
    p.add_argument(
        "--out", required=True, type=Path, help="landing root to create (DIR/<feed>/landing/*.json)"
    )
    p.add_argument("--customers", type=int, default=500, help="number of customers (default 500)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    p.add_argument("--files", type=int, default=4, help="files per feed (default 4)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from stedi.generate import GeneratorSpec, generate

    stats = generate(args.out, GeneratorSpec(customers=args.customers, seed=args.seed, files=args.files))
    print(
        f"wrote {stats.customer_records:,} customer records, {stats.accelerometer:,} accelerometer readings, "
        f"{stats.step_trainer:,} step-trainer readings under {args.out}"
    )
    return 0
