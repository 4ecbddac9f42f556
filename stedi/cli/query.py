"""`stedi query`: SQL over the lakehouse tables by name, with time travel."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "query",
        help="run SQL over the lakehouse tables by name (DataFusion), e.g. "
        '"SELECT count(*) FROM machine_learning_curated"',
    )
    p.add_argument("sql", help='the query; quote camelCase columns: "sensorReadingTime"')
    p.add_argument("--lakehouse", required=True, help="lakehouse root: local folder or s3://bucket/prefix")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--version", type=int, help="read every named table at this Delta version")
    when.add_argument("--as-of", help="read every named table as it was at this time (ISO 8601, UTC default)")
    p.add_argument("--max-rows", type=int, default=100, help="rows to print (default: %(default)s)")
    p.add_argument(
        "--format",
        choices=["table", "csv", "json"],
        default="table",
        help="output format; csv and json hold every row, not only --max-rows (default: %(default)s)",
    )
    p.add_argument(
        "--json",
        action="store_const",
        dest="format",
        const="json",
        help="same as --format json: {columns: [{name, type}], rows: [{column: value}], row_count}",
    )
    p.add_argument("--aws-credentials", help="name of a prefect-aws AwsCredentials block for s3:// lakes")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from stedi.aws import storage_options
    from stedi.config import RunConfig
    from stedi.sql import TimeTravel, format_table, parse_as_of, query
    from stedi.storage import Lake

    config = RunConfig.build(".", args.lakehouse, storage_options=storage_options(args.aws_credentials))
    when = TimeTravel(args.version, parse_as_of(args.as_of) if args.as_of else None)
    result = query(Lake.of(config), args.sql, when)
    if args.format == "json":
        from stedi.cli.output import emit_json

        emit_json(
            {
                "columns": [{"name": f.name, "type": str(f.type)} for f in result.schema],
                "rows": [{k: _finite(v) for k, v in row.items()} for row in result.to_pylist()],
                "row_count": result.num_rows,
            }
        )
    elif args.format == "csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(result, sys.stdout.buffer)
    else:
        print(format_table(result, args.max_rows))
    return 0


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: they become null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value
