"""`stedi tables`: every table with its zone, Delta version and row count."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("tables", help="list the lakehouse tables: zone, Delta version, rows")
    p.add_argument("--lakehouse", required=True, help="lakehouse root: local folder or s3://bucket/prefix")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from stedi.config import RunConfig
    from stedi.registry import REGISTRY
    from stedi.storage import Lake

    lake = Lake.of(RunConfig.build(".", args.lakehouse))
    print(f"{'table':<26}{'zone':<9}{'version':>8}{'rows':>14}")
    for table in REGISTRY.data_tables:
        zone = REGISTRY[table].zone
        if lake.exists(table):
            print(f"{table:<26}{zone:<9}{lake.version(table)!s:>8}{lake.count(table):>14,}")
        else:
            print(f"{table:<26}{zone:<9}{'-':>8}{'(missing)':>14}")
    return 0
