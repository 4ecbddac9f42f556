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
    p.add_argument(
        "--json",
        action="store_true",
        help="print JSON: {database, ddl, tables: [{table, zone, exists, location, columns}]}",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from stedi.aws import storage_options
    from stedi.catalog import lakehouse_ddl
    from stedi.config import RunConfig
    from stedi.storage import Lake

    config = RunConfig.build(".", args.lakehouse, storage_options=storage_options(args.aws_credentials))
    lake = Lake.of(config)
    ddl = lakehouse_ddl(lake, args.database, args.location)
    if args.json:
        from stedi.cli.output import emit_json

        emit_json({"database": args.database, "ddl": ddl, "tables": _tables(lake, args.location)})
    else:
        print(ddl, end="")
    return 0


def _tables(lake: Any, location_root: str | None) -> list[dict[str, Any]]:
    """Each table's zone, Athena location and Glue columns (none for a table not created yet)."""
    import pyarrow as pa

    from stedi.catalog import hive_type
    from stedi.registry import REGISTRY

    root = (location_root or lake.root).rstrip("/")
    tables = []
    for table in REGISTRY.data_tables:
        zone = REGISTRY[table].zone
        exists = lake.exists(table)
        schema = pa.schema(lake.delta(table).schema().to_arrow()) if exists else pa.schema([])
        columns = [{"name": f.name, "type": hive_type(f.type)} for f in schema]
        location = f"{root}/{zone}/{table}"
        tables.append(
            {"table": table, "zone": zone, "exists": exists, "location": location, "columns": columns}
        )
    return tables
