"""`stedi quarantine`: the records that could not be loaded, grouped by reason."""

from __future__ import annotations

import argparse
from typing import Any

EXAMPLE_COLUMNS = ("source_file", "line_number", "reason", "raw_line")


def register(sub: Any) -> None:
    p = sub.add_parser("quarantine", help="list quarantined landing records by feed and reason")
    p.add_argument("--lakehouse", required=True, help="lakehouse root: local folder or s3://bucket/prefix")
    p.add_argument("--show", type=int, default=3, help="example records per reason (default 3, 0 for none)")
    p.add_argument(
        "--json",
        action="store_true",
        help="print JSON: {exists, rows, groups: [{feed, reason_code, count, examples}]}",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from stedi.config import RunConfig
    from stedi.storage import Lake

    lake = Lake.of(RunConfig.build(".", args.lakehouse))
    if not lake.exists("quarantine"):
        if args.json:
            from stedi.cli.output import emit_json

            emit_json({"exists": False, "rows": 0, "groups": []})
        else:
            print("no quarantine table yet: nothing has been ingested")
        return 0
    rows = lake.read("quarantine", ["feed", "reason_code", *EXAMPLE_COLUMNS])
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows.sort_by(
        [("feed", "ascending"), ("source_file", "ascending"), ("line_number", "ascending")]
    ).to_pylist():
        groups.setdefault((row["feed"], row["reason_code"]), []).append(row)
    show = max(0, args.show)
    if args.json:
        from stedi.cli.output import emit_json

        emit_json(
            {
                "exists": True,
                "rows": rows.num_rows,
                "groups": [
                    {
                        "feed": feed,
                        "reason_code": reason,
                        "count": len(items),
                        "examples": [{k: item[k] for k in EXAMPLE_COLUMNS} for item in items[:show]],
                    }
                    for (feed, reason), items in sorted(groups.items())
                ],
            }
        )
        return 0
    print(f"{rows.num_rows:,} quarantined records")
    for (feed, reason), items in sorted(groups.items()):
        print(f"\n{feed} / {reason}: {len(items):,}")
        for item in items[:show]:
            raw = item["raw_line"] if len(item["raw_line"]) <= 120 else item["raw_line"][:117] + "..."
            print(f"  {item['source_file']}:{item['line_number']}  {item['reason']}\n    {raw}")
    return 0
