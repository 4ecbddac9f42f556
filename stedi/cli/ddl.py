"""`stedi ddl`: the Athena / Glue DDL for every lakehouse table."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("ddl", help="print the Athena/Glue DDL (Delta tables: columns, types, location)")
    p.add_argument("--lakehouse", required=True, help="lakehouse root: local folder or s3://bucket/prefix")
    p.add_argument("--database", default="stedi", help="Glue database name (default: %(default)s)")
    p.add_argument(
        "--location",
        help="s3://bucket/prefix the tables live at for Athena, when it differs from --lakehouse "
        "(e.g. a local lake synced to S3)",
    )
    p.add_argument("--aws-credentials", help="name of a prefect-aws AwsCredentials block for s3:// lakes")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from stedi.aws import storage_options
    from stedi.catalog import lakehouse_ddl
    from stedi.config import RunConfig
    from stedi.storage import Lake

    config = RunConfig.build(".", args.lakehouse, storage_options=storage_options(args.aws_credentials))
    print(lakehouse_ddl(Lake.of(config), args.database, args.location), end="")
    return 0
