"""`stedi tables`: every table with its zone, Delta version and row count."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("tables", help="list the lakehouse tables: zone, Delta version, rows")
    p.add_argument("--lakehouse", required=True, help="lakehouse root: local folder or s3://bucket/prefix")
    p.add_argument("--json", action="store_true", help="print JSON: {lakehouse, tables: [{table, ...}]}")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from stedi.config import RunConfig
    from stedi.registry import REGISTRY
    from stedi.storage import Lake

    lake = Lake.of(RunConfig.build(".", args.lakehouse))
    tables = []
    for table in REGISTRY.data_tables:
        zone = REGISTRY[table].zone
        exists = lake.exists(table)
        version = lake.version(table) if exists else None
        rows = lake.count(table) if exists else None
        tables.append({"table": table, "zone": zone, "exists": exists, "version": version, "rows": rows})
    if args.json:
        from stedi.cli.output import emit_json

        emit_json({"lakehouse": lake.root, "tables": tables})
        return 0
    print(f"{'table':<26}{'zone':<9}{'version':>8}{'rows':>14}")
    for t in tables:
        if t["exists"]:
            print(f"{t['table']:<26}{t['zone']:<9}{t['version']!s:>8}{t['rows']:>14,}")
        else:
            print(f"{t['table']:<26}{t['zone']:<9}{'-':>8}{'(missing)':>14}")
    return 0
