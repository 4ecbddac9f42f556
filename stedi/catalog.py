"""Athena / Glue catalog DDL for every lakehouse table (what the course's Glue crawler produced).

Athena reads a Delta table's columns from its transaction log and syncs them to Glue, so its
CREATE statement may hold only LOCATION and `table_type`; the columns and their Glue types are
printed above each statement for people reading the catalog.
"""

from __future__ import annotations

import pyarrow as pa

from stedi.errors import InputError
from stedi.registry import REGISTRY
from stedi.storage import Lake


def hive_type(t: pa.DataType) -> str:
    """The Glue/Athena (Hive) type of an Arrow type."""
    simple = [
        (pa.types.is_string, "string"),
        (pa.types.is_large_string, "string"),
        (pa.types.is_string_view, "string"),
        (pa.types.is_boolean, "boolean"),
        (pa.types.is_int8, "tinyint"),
        (pa.types.is_int16, "smallint"),
        (pa.types.is_int32, "int"),
        (pa.types.is_int64, "bigint"),
        (pa.types.is_float32, "float"),
        (pa.types.is_float64, "double"),
        (pa.types.is_timestamp, "timestamp"),
        (pa.types.is_date, "date"),
        (pa.types.is_binary, "binary"),
        (pa.types.is_large_binary, "binary"),
    ]
    for test, name in simple:
        if test(t):
            return name
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"array<{hive_type(t.value_type)}>"
    if pa.types.is_map(t):
        return f"map<{hive_type(t.key_type)},{hive_type(t.item_type)}>"
    if pa.types.is_struct(t):
        return "struct<" + ",".join(f"{f.name}:{hive_type(f.type)}" for f in t) + ">"
    raise InputError(f"no Glue type for Arrow type {t}: extend stedi.catalog.hive_type")


def table_ddl(database: str, table: str, location: str, schema: pa.Schema) -> str:
    """The Athena statement for one Delta table, its Glue columns as comments above it."""
    width = max(len(f.name) for f in schema)
    lines = [f"-- {table} ({REGISTRY[table].zone} zone): {len(schema)} columns, as Glue lists them"]
    lines += [f"--   {f.name:<{width}}  {hive_type(f.type)}" for f in schema]
    lines += [
        f"CREATE EXTERNAL TABLE `{database}`.`{table}`",
        f"LOCATION '{location}'",
        "TBLPROPERTIES ('table_type' = 'DELTA');",
    ]
    return "\n".join(lines)


def lakehouse_ddl(lake: Lake, database: str = "stedi", location_root: str | None = None) -> str:
    """DDL for every table of `lake`; locations under `location_root` when the files are copied elsewhere."""
    if not database.replace("_", "").isalnum():
        raise InputError(f"database name {database!r}: use letters, digits and underscores")
    root = (location_root or lake.root).rstrip("/")
    parts = [
        "-- STEDI lakehouse: Athena DDL (Delta Lake tables; Athena syncs their columns to the Glue catalog).",
        f"CREATE DATABASE IF NOT EXISTS `{database}`;",
    ]
    if not root.startswith("s3://"):
        parts[0] += f"\n-- Athena reads only s3:// locations: pass --location s3://bucket/prefix for {root}."
    for table in REGISTRY.data_tables:
        zone = REGISTRY[table].zone
        if not lake.exists(table):
            parts.append(f"-- {table} ({zone} zone): not created yet; run `stedi run` first")
            continue
        schema = pa.schema(lake.delta(table).schema().to_arrow())
        parts.append(table_ddl(database, table, f"{root}/{zone}/{table}", schema))
    return "\n\n".join(parts) + "\n"
