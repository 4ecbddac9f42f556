"""`stedi privacy-report`: the privacy funnels and erasures of a lakehouse, counts only."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import TYPE_CHECKING, Any

from stedi.policy import Policy

if TYPE_CHECKING:
    from stedi.privacy.report import PrivacyReport


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
    output = p.add_mutually_exclusive_group()
    output.add_argument("--markdown", action="store_true", help="print Markdown instead of text")
    output.add_argument(
        "--json",
        action="store_true",
        help="print JSON: {policy, since, customers, accelerometer, step_trainer, erasures}, "
        "each a list of {stage, count}",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from stedi.config import RunConfig
    from stedi.storage import Lake
    from tasks.privacy import build_privacy_report, last_ingest

    lake = Lake.of(RunConfig.build(args.lakehouse, args.lakehouse))
    since = args.since or last_ingest(lake)
    report = build_privacy_report(lake, Policy.parse(args.policy), since)
    if args.json:
        from stedi.cli.output import emit_json

        emit_json(report_document(report))
    else:
        print(report.to_markdown() if args.markdown else report.to_text())
    return 0


def report_document(report: PrivacyReport) -> dict[str, Any]:
    """The report as JSON-ready data: counts only, stages in funnel order."""
    funnels = {
        "customers": report.customers,
        "accelerometer": report.accelerometer,
        "step_trainer": report.step_trainer,
        "erasures": report.erasures,
    }
    return {
        "policy": report.policy,
        "since": report.since.isoformat() if report.since else None,
        **{name: [{"stage": s, "count": n} for s, n in stages] for name, stages in funnels.items()},
    }
