"""`--wait SECONDS`, shared by every subcommand that writes to the lakehouse."""

from __future__ import annotations

from typing import Any

CLI_WAIT_SECONDS = 30.0


def add_wait_option(parser: Any) -> None:
    parser.add_argument(
        "--wait",
        type=float,
        default=CLI_WAIT_SECONDS,
        metavar="SECONDS",
        help="how long to wait for another writer to release the lakehouse, else exit as busy "
        "(default %(default).0f)",
    )
