"""The maintenance flow: compact and cluster the lakehouse tables, then vacuum unreferenced files.

Runs on its own schedule (prefect.yaml, deployment `maintenance`), apart from the hourly build, so
that reads of one day or one subject stay fast as appends pile up small files. It holds the
lakehouse lease like every writer: a vacuum must never meet another writer's uncommitted files.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from prefect import flow, get_run_logger, task
from prefect_aws import AwsCredentials

from stedi.config import normalise_uri, quiet_prefect_env
from stedi.lock import lakehouse_lock, waiting_at_most
from stedi.maintenance import DEFAULT_RETENTION_HOURS, MaintenanceResult, maintain
from stedi.registry import REGISTRY
from stedi.storage import Lake
from tasks.options import TASK_OPTIONS


@task(name="maintain_table", **TASK_OPTIONS)
def maintain_table(lake: Lake, table: str, retention_hours: int) -> MaintenanceResult:
    """Optimize (Z-order or compact) one table, then vacuum it."""
    result = maintain(lake, table, retention_hours)
    get_run_logger().info(
        "%s: %d files -> %d, %d unreferenced files vacuumed",
        table,
        result.files_before,
        result.files_after,
        result.files_removed_by_vacuum,
    )
    return result


@flow(name="stedi-maintenance", log_prints=False)
def stedi_maintenance(
    lakehouse: str,
    retention_hours: int = DEFAULT_RETENTION_HOURS,
    aws_credentials: AwsCredentials | str | None = None,
) -> list[MaintenanceResult]:
    """Maintain every existing table of the lakehouse, one after the other (each is its own commit).

    `aws_credentials` is a prefect-aws AwsCredentials block (or its name) for an s3:// lakehouse.
    """
    from stedi.aws import storage_options
    from stedi.config import RunConfig

    config = RunConfig.build(".", lakehouse, storage_options=storage_options(aws_credentials))
    lake = Lake.of(config)
    with lakehouse_lock(config.lakehouse, config.storage_options, purpose="stedi maintenance"):
        return [maintain_table(lake, t, retention_hours) for t in REGISTRY.data_tables if lake.exists(t)]


def main(argv: Sequence[str] | None = None) -> int:
    from stedi.cli.exit_codes import exit_code
    from stedi.cli.wait import add_wait_option
    from stedi.errors import StediError

    parser = argparse.ArgumentParser(description="compact, cluster and vacuum the lakehouse tables")
    parser.add_argument("--lakehouse", required=True)
    parser.add_argument("--retention-hours", type=int, default=DEFAULT_RETENTION_HOURS)
    add_wait_option(parser)
    args = parser.parse_args(argv)
    quiet_prefect_env()
    try:
        with waiting_at_most(args.wait):
            stedi_maintenance(normalise_uri(args.lakehouse), args.retention_hours)
    except StediError as exc:
        print(f"maintenance: {exc}", file=sys.stderr)
        return int(exit_code(exc))  # the stedi CLI's codes: 3 when the lakehouse stays busy
    return 0


if __name__ == "__main__":
    sys.exit(main())
