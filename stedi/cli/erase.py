"""`stedi erase`: remove subjects from every zone of a lakehouse (or queue the requests)."""

from __future__ import annotations

import argparse
from typing import Any

from stedi.cli.wait import add_wait_option


def register(sub: Any) -> None:
    p = sub.add_parser(
        "erase",
        help="erase subjects (by email) from every zone: landing, quarantine, trusted, curated; vacuums",
    )
    p.add_argument("--lakehouse", required=True, help="lakehouse root: local folder or s3://bucket/prefix")
    p.add_argument(
        "--email", action="append", default=[], metavar="E", help="a subject's email (repeat for several)"
    )
    p.add_argument(
        "--include-raw", action="store_true", help="also rewrite the raw landing JSON files without them"
    )
    p.add_argument("--landing", help="landing root (needed with --include-raw)")
    p.add_argument(
        "--queue",
        action="store_true",
        help="only append the requests to erasure_requests, for the deployed erase_subjects flow to drain",
    )
    add_wait_option(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pydantic import SecretStr

    from stedi.config import RunConfig, quiet_prefect_env
    from stedi.errors import InputError
    from stedi.lock import lakehouse_lock, waiting_at_most
    from stedi.privacy.subjects import valid_emails

    if args.include_raw and not args.landing:
        raise InputError("--include-raw needs --landing: the landing root whose JSON files are rewritten")
    emails = [SecretStr(e) for e in valid_emails(args.email)]
    config = RunConfig.build(args.landing or args.lakehouse, args.lakehouse)
    if args.queue:
        from stedi.storage import Lake
        from tasks.erasure import queue_erasure_requests

        if not emails:
            raise InputError("--queue needs at least one --email")
        with lakehouse_lock(config.lakehouse, config.storage_options, "stedi erase --queue", args.wait):
            queued = queue_erasure_requests(Lake.of(config), emails)
        print(f"queued {queued} erasure request(s)")
        return 0
    quiet_prefect_env()
    from flows.erase_subjects import erase_subjects
    from stedi.cli.console import run_console

    with waiting_at_most(args.wait), run_console(show_progress=False, debug=args.debug):
        summary = erase_subjects(
            lakehouse=config.lakehouse,
            emails=emails,
            include_raw=args.include_raw,
            landing=config.landing if args.landing else None,
        )
    print(summary.to_text())
    return 0
