"""`stedi privacy-report`: the privacy funnels and erasures of a lakehouse, counts only."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from stedi.policy import Policy


def register(sub: Any) -> None:
    p = sub.add_parser(
        "privacy-report", help="customers and readings from landing to trusted, and recent erasures"
    )
    p.add_argument("--lakehouse", required=True, help="lakehouse root: local folder or s3://bucket/prefix")
    p.add_argument("--policy", default=Policy.STRICT.value, choices=[p.value for p in Policy])
    p.add_argument(
        "--since",
        type=datetime.fromisoformat,
        help="count erasures after this ISO time (default: the pipeline's last ingest)",
    )
    p.add_argument("--markdown", action="store_true", help="print Markdown instead of text")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from stedi.config import RunConfig
    from stedi.storage import Lake
    from tasks.privacy import build_privacy_report, last_ingest

    lake = Lake.of(RunConfig.build(args.lakehouse, args.lakehouse))
    since = args.since or last_ingest(lake)
    report = build_privacy_report(lake, Policy.parse(args.policy), since)
    print(report.to_markdown() if args.markdown else report.to_text())
    return 0
