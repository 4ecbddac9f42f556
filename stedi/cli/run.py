"""`stedi run`: the lakehouse flow on a landing root."""

from __future__ import annotations

import argparse
from typing import Any

from stedi.cli.wait import add_wait_option
from stedi.policy import Policy


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run", help="run the stedi_lakehouse flow (ephemeral Prefect unless PREFECT_API_URL is set)"
    )
    p.add_argument("--landing", required=True, help="landing root: local folder or s3://bucket/prefix")
    p.add_argument(
        "--lakehouse", required=True, help="where the Delta tables go: local folder or s3://bucket/prefix"
    )
    p.add_argument("--policy", default=Policy.STRICT.value, choices=[p.value for p in Policy])
    p.add_argument(
        "--full-refresh", action="store_true", help="re-read every landing file and rebuild every table"
    )
    p.add_argument(
        "--drop-vanished",
        action="store_true",
        help="with --full-refresh: drop the rows of landing files that are gone (kept otherwise; counted)",
    )
    p.add_argument(
        "--dask",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="run parallel work on Dask: a scheduler address (tcp://host:8786), or none for a local cluster",
    )
    p.add_argument(
        "--dask-workers", type=int, default=2, help="workers of the local Dask cluster (default 2)"
    )
    p.add_argument(
        "--always",
        action="store_true",
        help="start the flow even when nothing is new (by default such a run ends at once, without Prefect)",
    )
    p.add_argument(
        "--summary-json",
        metavar="PATH",
        help="also write the run summary (tables, counts, validation seconds, flow seconds) as JSON",
    )
    add_wait_option(p)
    p.add_argument(
        "--json",
        action="store_true",
        help="print the run summary as JSON on stdout instead of text (status, tables, counts, flow_s)",
    )
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress display (it is shown on stderr only when stderr is a terminal)",
    )
    p.set_defaults(handler=run)


# Imported at module level by prefect-aws (which the flow imports for its credentials block) for its
# ECS worker's task observer, and used only there: with aiohttp, which creates SSL contexts as it is
# imported, ≈ 0.2 s of the CLI's start. Deferred (`stedi.lazy_imports`): it loads if ever used.
NOT_USED_BY_RUNS = ("aiobotocore.session",)


def run(args: argparse.Namespace) -> int:

    from stedi import validation_pool
    from stedi.config import RunConfig, quiet_prefect_env
    from stedi.lazy_imports import defer

    for name in NOT_USED_BY_RUNS:
        defer(name)

    # Fail fast on bad arguments, before Prefect starts.
    config = RunConfig.build(args.landing, args.lakehouse, args.policy)
    quiet_prefect_env()
    # Boot the temporary Prefect server now, on the other core, while this process imports.
    # A server that turns out to be unneeded (nothing to do, bad input) is stopped at exit.
    server = start_temporary_server()
    if server is None:  # nothing boots: Great Expectations loads on the other core from now on
        validation_pool.start()
    try:
        return _run(args, config, server)
    finally:
        forget_temporary_server(server)  # a caller in the same process must not inherit its URL
        validation_pool.abandon()  # the run is over: nothing waits for the validation process any more
        _flush_prefect()


def start_temporary_server() -> Any:
    """Start the temporary Prefect server unless PREFECT_API_URL is set; call before importing Prefect.

    When no Prefect setting source can hold an API URL, the server's URL goes into the environment
    now: threads that do not inherit the flow's settings (the process pool's message forwarder,
    Prefect's event loop thread) read the settings Prefect loads at import, and without an API URL
    there each would start a temporary server of its own.
    """
    import os

    from stedi.config import TEMPORARY_API_ENV, prefect_api_may_be_configured
    from stedi.prefect_api import TemporaryServer

    if os.environ.get("PREFECT_API_URL"):
        return None
    server = TemporaryServer().start()
    if not prefect_api_may_be_configured():
        os.environ["PREFECT_API_URL"] = os.environ[TEMPORARY_API_ENV] = server.api_url
    return server


def forget_temporary_server(server: Any) -> None:
    """Take the temporary server's URL out of the environment again (it ends with the run)."""
    import os

    from stedi.config import TEMPORARY_API_ENV

    if server is not None and os.environ.get(TEMPORARY_API_ENV) == server.api_url:
        os.environ.pop(TEMPORARY_API_ENV, None)
        if os.environ.get("PREFECT_API_URL") == server.api_url:
            os.environ.pop("PREFECT_API_URL", None)


def _run(args: argparse.Namespace, config: Any, server: Any) -> int:
    import json
    import time
    from pathlib import Path

    from stedi import validation_pool
    from stedi.config import arm_faults
    from stedi.lock import waiting_at_most
    from stedi.prefect_api import plain_parameters, prefect_api

    if not args.full_refresh and not args.always and _nothing_to_do(config):
        if args.json:
            from stedi.cli.output import emit_json

            emit_json({"status": "nothing_new", "landing": config.landing, "lakehouse": config.lakehouse})
        else:
            print(f"nothing new in {config.landing}: every file is ingested and every table is up to date")
        return 0
    arm_faults()
    from stedi.cli.console import run_console

    options = {"landing": args.landing, "lakehouse": args.lakehouse, "policy": args.policy}
    # With a temporary server Great Expectations starts loading only now, once this process has
    # imported the flow: the booting server, which the run waits for, keeps a core to itself.
    if args.dask:
        from flows.runners import stedi_lakehouse_dask

        validation_pool.start()
        address = None if args.dask == "local" else args.dask
        with prefect_api(server), waiting_at_most(args.wait), run_console(not args.no_progress, args.debug):
            started = time.perf_counter()  # the server is up: from here on it is the flow's time
            summary = plain_parameters(stedi_lakehouse_dask)(
                **options,
                full_refresh=args.full_refresh,
                drop_vanished=args.drop_vanished,
                dask_address=address,
                dask_workers=args.dask_workers,
            )
    else:
        from flows.stedi_lakehouse import stedi_lakehouse

        validation_pool.start()
        with prefect_api(server), waiting_at_most(args.wait), run_console(not args.no_progress, args.debug):
            started = time.perf_counter()
            summary = plain_parameters(stedi_lakehouse)(
                **options, full_refresh=args.full_refresh, drop_vanished=args.drop_vanished
            )
    document = {"status": "ran", **summary.to_dict(), "flow_s": round(time.perf_counter() - started, 3)}
    if args.json:
        from stedi.cli.output import emit_json

        emit_json(document)
    else:
        print(summary.to_text())
    if args.summary_json:
        Path(args.summary_json).write_text(json.dumps(document, indent=2, default=str) + "\n")
    return 0


def _flush_prefect() -> None:
    """Send the run's last events and log lines to the Prefect API now, before the CLI's last line.

    Prefect would do it at exit, and say so on stderr when items are still queued: after the
    one-line message that must end the output.
    """
    import sys

    if "prefect" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    EventsWorker.drain_all()
    APILogWorker.drain_all()


def _nothing_to_do(config: Any) -> bool:
    from stedi.freshness import nothing_to_do
    from stedi.storage import Landing

    Landing(config.landing, config.storage_options).check_layout()
    return nothing_to_do(config)
