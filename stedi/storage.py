"""The one seam to storage: table locations, safe Delta reads, Delta writes and landing-file access."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, QueryBuilder, write_deltalake
from deltalake.exceptions import CommitFailedError, SchemaMismatchError, TableNotFoundError

from stedi.config import RunConfig, is_local
from stedi.credentials import StorageCredentials
from stedi.errors import InputError, LayoutError, SchemaConflictError, TransientError
from stedi.faults import checkpoint
from stedi.registry import REGISTRY

LANDING_SUFFIXES = (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz")


@dataclass(frozen=True)
class Lake:
    """A lakehouse root and the storage options that reach it."""

    root: str
    storage_options: Mapping[str, str] = field(repr=False)

    def __post_init__(self) -> None:  # options never show, and are read afresh on each use
        object.__setattr__(self, "storage_options", StorageCredentials.of(self.storage_options))

    @classmethod
    def of(cls, config: RunConfig) -> Lake:
        return cls(config.lakehouse, config.storage_options)

    def uri(self, table: str) -> str:
        return f"{self.root}/{REGISTRY[table].zone}/{table}"

    @property
    def options(self) -> dict[str, str]:
        """The storage options now (refreshed credentials included), for deltalake."""
        return dict(self.storage_options)

    @property
    def local(self) -> bool:
        """On a local filesystem: scans may use threads (see `scan`)."""
        return is_local(self.root)

    def exists(self, table: str) -> bool:
        return bool(DeltaTable.is_deltatable(self.uri(table), storage_options=self.options))

    def delta(self, table: str, version: int | None = None) -> DeltaTable:
        try:
            return DeltaTable(self.uri(table), version=version, storage_options=self.options)
        except TableNotFoundError:
            raise InputError(
                f"table {table} does not exist under {self.root}: run `stedi run` first"
            ) from None

    def version(self, table: str) -> int | None:
        return self.delta(table).version() if self.exists(table) else None

    def read(self, table: str, columns: list[str] | None = None, version: int | None = None) -> pa.Table:
        """Read a whole table in a way that cannot abort the interpreter at exit.

        A threaded scan through deltalake's own filesystem can abort it: local tables are read through
        Arrow's filesystem, remote ones through DataFusion.
        """
        dt = self.delta(table, version)
        if is_local(self.root):
            path = self.uri(table).removeprefix("file://")
            fs = pafs.SubTreeFileSystem(path, pafs.LocalFileSystem())
            return dt.to_pyarrow_table(columns=columns, filesystem=fs)
        select = ", ".join(f'"{c}"' for c in columns) if columns else "*"
        result = pa.table(QueryBuilder().register("t", dt).execute(f"SELECT {select} FROM t").read_all())
        # DataFusion answers with arro3 objects and string_view columns: give callers the table's own types.
        schema = pa.schema(dt.schema().to_arrow())
        return result.cast(pa.schema([schema.field(c) for c in result.column_names]))

    def files(self, table: str, version: int | None = None) -> set[str]:
        """The data files (paths relative to the table root) of a table version."""
        actions = self.delta(table, version).get_add_actions(flatten=True)
        return {str(p) for p in actions.column("path").to_pylist()}

    def dataset(
        self, table: str, version: int | None = None, dictionary: Collection[str] = ()
    ) -> pads.Dataset:
        """A pyarrow dataset of a table version whose fragments carry the files' min/max statistics.

        Files are read through Arrow's own filesystems, never deltalake's Python one: that one
        can abort the interpreter at exit, and it cannot be used while a Delta write is running
        (a stream being written from another table's scan would panic in deltalake's runtime).
        `dictionary` columns are read as dictionary arrays, as Parquet stores them: a lookup of
        a few values then compares each row group's distinct values, not every row.
        """
        fs, path = _filesystem(self.uri(table), self.storage_options)
        options = pads.ParquetReadOptions(dictionary_columns=set(dictionary)) if dictionary else None
        return self.delta(table, version).to_pyarrow_dataset(
            filesystem=pafs.SubTreeFileSystem(path, fs), parquet_read_options=options
        )

    def scan(
        self,
        table: str,
        columns: list[str] | None = None,
        filter: pc.Expression | None = None,
        files: Collection[str] | None = None,
        version: int | None = None,
    ) -> pa.Table:
        """Rows of a table version matching `filter`, from `files` only when given.

        Files whose statistics rule the filter out are not opened. Threads only with the local
        filesystem: the threaded scan through deltalake's filesystem can abort at exit.
        """
        data = self.dataset(table, version)
        if files is not None:
            wanted = set(files)
            fragments = [f for f in data.get_fragments() if f.path in wanted]
            data = pads.FileSystemDataset(fragments, data.schema, data.format, data.filesystem)
        return data.to_table(columns=columns, filter=filter, use_threads=is_local(self.root))

    def history(self, table: str) -> list[dict[str, object]]:
        """Every commit's info of `table`, newest first (empty when the table does not exist)."""
        return [dict(h) for h in self.delta(table).history()] if self.exists(table) else []

    def batches(
        self,
        table: str,
        columns: list[str] | None = None,
        where: pc.Expression | None = None,
        version: int | None = None,
        dictionary: Collection[str] = (),
    ) -> Iterator[pa.RecordBatch]:
        """Stream a table's record batches, optionally filtered, without risking an abort at exit.

        The table version is resolved now, so the batches can feed a Delta write (the scan itself is
        pure Arrow). Local tables are scanned with threads, remote ones without. Filters on
        clustered columns skip whole files.
        """
        data = self.dataset(table, version, dictionary)
        return iter(data.to_batches(columns=columns, filter=where, use_threads=is_local(self.root)))

    def count(self, table: str) -> int:
        dt = self.delta(table)
        return sum(int(n) for n in dt.get_add_actions(flatten=True).column("num_records").to_pylist())

    def write(
        self,
        table: str,
        data: pa.Table | pa.RecordBatchReader,
        mode: Literal["overwrite", "append"] = "overwrite",
        predicate: str | None = None,
        partition_by: list[str] | None = None,
        metadata: Mapping[str, str] | None = None,
        configuration: Mapping[str, str | None] | None = None,
        schema_mode: Literal["merge"] | None = None,
    ) -> int:
        """Commit `data` as one Delta transaction and return the new version.

        A RecordBatchReader is written as it streams; an exception raised while it is read
        aborts the write before its commit (the Parquet files already written are left for vacuum).

        `metadata` goes into the commit's info (what the table was built from). `configuration`
        (Delta table properties) applies when the write creates the table; by default the table's
        spec's properties in the registry (no statistics on personal columns). `schema_mode="merge"`
        lets an append add nullable columns to the table.
        """
        uri = self.uri(table)
        commit = CommitProperties(custom_metadata=dict(metadata)) if metadata else None
        spec = REGISTRY[table]
        properties = dict(spec.properties if configuration is None else configuration)
        checkpoint(f"before_commit:{table}")
        if partition_by is None:
            partition_by = list(spec.layout.partition_by) or None
        # Only an append may evolve the schema; only an overwrite replaces rows matching a predicate.
        extra: dict[str, Any] = {"schema_mode": schema_mode} if mode == "append" else {"predicate": predicate}
        try:
            write_deltalake(
                uri,
                data,
                mode=mode,
                partition_by=partition_by,
                configuration=properties or None,
                storage_options=self.options,
                commit_properties=commit,
                **extra,
            )
        except SchemaMismatchError as exc:
            raise SchemaConflictError(
                f"table {table} at {uri} has a schema this pipeline cannot write ({exc}); "
                "move the table away or rebuild the lakehouse into an empty location"
            ) from exc
        except CommitFailedError as exc:
            raise TransientError(f"concurrent commit on {table}: {exc}") from exc
        version = int(DeltaTable(uri, storage_options=self.options).version())
        checkpoint(f"after_commit:{table}")
        return version

    def commit_info(self, table: str) -> dict[str, object]:
        """The newest commit's info of `table` (empty when the table does not exist)."""
        if not self.exists(table):
            return {}
        history = self.delta(table).history(1)
        return dict(history[0]) if history else {}

    # Partition work: workers write Parquet files into a table's location, the flow commits them.

    def write_part(self, table: str, data: pa.Table, partition: Mapping[str, str] | None = None) -> PartFile:
        """Write `data` as one Parquet file of `table` (not yet committed) and describe it for the commit.

        Statistics go only to the spec's statistics columns: personal columns never reach the log.
        """
        spec = REGISTRY[table]
        data = data.select(spec.schema.names).cast(spec.schema)
        if partition:  # partition values live in the path and the log, not in the file
            data = data.drop_columns([c for c in partition if c in data.column_names])
        folder = "/".join(f"{k}={v}" for k, v in (partition or {}).items())
        path = f"{folder}/" if folder else ""
        path += f"part-{uuid.uuid4()}.parquet"
        fs, root = _filesystem(self.uri(table), self.storage_options)
        fs.create_dir(f"{root}/{folder}" if folder else root, recursive=True)
        pq.write_table(data, f"{root}/{path}", filesystem=fs, compression="snappy")
        size = fs.get_file_info(f"{root}/{path}").size
        return PartFile(path, int(size or 0), dict(partition or {}), file_stats(data, spec.stats_columns))

    def commit_files(
        self,
        table: str,
        added: Collection[PartFile],
        removed: Collection[str],
        metadata: Mapping[str, str],
        data_change: bool = True,
        removed_partitions: Mapping[str, Mapping[str, str]] | None = None,
    ) -> int:
        """Commit files written by `write_part` and remove `removed` (table paths) as one Delta version.

        `data_change=False` marks a rewrite that moves rows without changing them (compaction).
        `removed_partitions` gives removed files' partition values, so readers of the log see
        which partitions changed.
        """
        from deltalake import Schema
        from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions

        spec = REGISTRY[table]
        now = int(time.time() * 1000)
        actions: list[AddAction | RemoveAction] = [
            RemoveAction(
                path=p,
                data_change=data_change,
                deletion_timestamp=now,
                partition_values=dict((removed_partitions or {}).get(p, {})) or None,
            )
            for p in sorted(removed)
        ]
        actions += [
            AddAction(f.path, f.size, f.partition, now, data_change, json.dumps(f.stats)) for f in added
        ]
        checkpoint(f"before_commit:{table}")
        partition_by = list(spec.layout.partition_by) or None
        commit = CommitProperties(custom_metadata=dict(metadata))
        try:
            if not self.exists(table):  # the table is created by the commit of its first files
                create_table_with_add_actions(
                    self.uri(table),
                    Schema.from_arrow(spec.schema),
                    [a for a in actions if isinstance(a, AddAction)],
                    partition_by=partition_by,
                    configuration=dict(spec.properties) or None,
                    storage_options=self.options,
                    commit_properties=commit,
                )
            else:
                self.delta(table).create_write_transaction(
                    actions,
                    mode="append",
                    schema=spec.schema,
                    partition_by=partition_by,
                    commit_properties=commit,
                )
        except CommitFailedError as exc:
            raise TransientError(f"concurrent commit on {table}: {exc}") from exc
        version = int(self.delta(table).version())
        checkpoint(f"after_commit:{table}")
        return version

    def partition_files(self, table: str, column: str, version: int | None = None) -> dict[str, list[str]]:
        """The data files of a table version by their value of partition `column` (from the log)."""
        actions = pa.table(self.delta(table, version).get_add_actions(flatten=True))
        values = actions.column(f"partition.{column}").to_pylist()
        found: dict[str, list[str]] = {}
        for path, value in zip(actions.column("path").to_pylist(), values, strict=True):
            found.setdefault(str(value), []).append(str(path))
        return found

    # Staging: files a run writes before it knows what it commits, under `<root>/_staging/<table>`.
    # Nothing reads them but the run that wrote them; every run of the table clears them first.

    def _staging(self, table: str) -> tuple[pafs.FileSystem, str]:
        fs, root = _filesystem(self.root, self.storage_options)
        return fs, f"{root}/_staging/{table}"

    def write_staged(self, table: str, name: str, data: pa.Table) -> str:
        """Write `data` as the staged file `name` of `table`; returns the path to read it back."""
        fs, root = self._staging(table)
        path = f"{root}/{name}"
        fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        pq.write_table(data, path, filesystem=fs, compression="lz4")
        return path

    def read_staged(self, table: str, path: str) -> pa.Table:
        fs, _ = self._staging(table)
        return pq.read_table(path, filesystem=fs, use_threads=self.local)

    def clear_staged(self, table: str) -> None:
        """Remove every staged file of `table` (a crashed run's included)."""
        fs, root = self._staging(table)
        if fs.get_file_info(root).type != pafs.FileType.NotFound:
            fs.delete_dir(root)

    def file_ranges(
        self, table: str, column: str, version: int | None = None
    ) -> dict[str, tuple[int, int] | None]:
        """Per data file of a table version, the min and max of `column` (None: no statistics)."""
        actions = pa.table(self.delta(table, version).get_add_actions(flatten=True))
        paths = actions.column("path").to_pylist()
        if f"min.{column}" not in actions.column_names:
            return dict.fromkeys(paths)
        low, high = actions.column(f"min.{column}").to_pylist(), actions.column(f"max.{column}").to_pylist()
        return {
            p: None if a is None or b is None else (int(a), int(b))
            for p, a, b in zip(paths, low, high, strict=True)
        }

    def partition_changes(self, table: str, since: int, until: int, column: str) -> PartitionChanges | None:
        """Per value of partition `column`, the rows changed between two versions; None when unknown.

        Read from the commits' own add and remove actions: actions that move rows without changing
        them (OPTIMIZE, Z-order) carry `dataChange: false` and are ignored, VACUUM commits have none.
        None when a commit is no longer in the log, or a changed file names no partition value.
        """
        fs, root = _filesystem(self.uri(table), self.storage_options)
        changes = PartitionChanges()
        for version in range(since + 1, until + 1):
            try:
                with fs.open_input_stream(f"{root}/_delta_log/{version:020d}.json") as stream:
                    lines = bytes(stream.read()).decode("utf-8").splitlines()
            except (FileNotFoundError, OSError):
                return None
            for line in lines:
                entry = json.loads(line) if line.strip() else {}
                action = entry.get("add") or entry.get("remove")
                if not action or not action.get("dataChange", True):
                    continue
                value = (action.get("partitionValues") or {}).get(column)
                if value is None:
                    return None
                if "add" in entry:
                    changes.added.setdefault(str(value), []).append(str(action["path"]))
                    stats = json.loads(action.get("stats") or "{}")
                    changes.added_rows += int(stats.get("numRecords") or 0)
                else:
                    changes.rewritten.add(str(value))
        return changes

    def build_info(self, table: str, key: str) -> tuple[int, dict[str, object]] | None:
        """The newest commit of `table` whose info carries `key`: its version and info."""
        for commit in self.history(table):
            if key in commit:
                return int(str(commit["version"])), commit
        return None


@dataclass
class PartitionChanges:
    """What commits changed per partition value: files added, and values that lost files too."""

    added: dict[str, list[str]] = field(default_factory=dict)
    rewritten: set[str] = field(default_factory=set)
    added_rows: int = 0

    @property
    def changed(self) -> set[str]:
        return set(self.added) | self.rewritten

    @property
    def appended(self) -> dict[str, list[str]]:
        """Values whose rows were only added to, with the files that hold the new rows."""
        return {v: paths for v, paths in self.added.items() if v not in self.rewritten}


@dataclass(frozen=True)
class PartFile:
    """A Parquet file written into a table's location, waiting for its commit."""

    path: str
    size: int
    partition: dict[str, str]
    stats: dict[str, object]


def file_stats(data: pa.Table, columns: Collection[str]) -> dict[str, object]:
    """Delta statistics of one file: rows, and min, max and null count of `columns`."""
    low: dict[str, object] = {}
    high: dict[str, object] = {}
    nulls: dict[str, int] = {}
    for name in columns:
        if name not in data.column_names:
            continue
        column = data.column(name)
        nulls[name] = column.null_count
        bounds = pc.min_max(column)
        if bounds["min"].is_valid:
            low[name], high[name] = _json_value(bounds["min"].as_py()), _json_value(bounds["max"].as_py())
    return {"numRecords": data.num_rows, "minValues": low, "maxValues": high, "nullCount": nulls}


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def sql_in(values: list[str]) -> str:
    """A SQL `IN (...)` list of string literals, quotes escaped."""
    if not values:
        return "(NULL)"  # matches nothing, and still parses
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


@dataclass(frozen=True)
class LandingFile:
    """One landing file: its path as the filesystem names it, its size and modification time."""

    path: str
    size: int
    mtime_ns: int


def _filesystem(uri: str, storage_options: Mapping[str, str]) -> tuple[pafs.FileSystem, str]:
    if is_local(uri):
        return pafs.LocalFileSystem(), uri.removeprefix("file://")
    options = dict(storage_options)  # one resolution: key and secret of the same credentials
    if uri.startswith("s3://"):
        endpoint = options.get("AWS_ENDPOINT_URL", "")
        scheme = "http" if endpoint.startswith("http://") else "https"
        s3 = pafs.S3FileSystem(
            access_key=options.get("AWS_ACCESS_KEY_ID"),
            secret_key=options.get("AWS_SECRET_ACCESS_KEY"),
            session_token=options.get("AWS_SESSION_TOKEN"),
            region=options.get("AWS_REGION") or options.get("AWS_DEFAULT_REGION") or "us-east-1",
            endpoint_override=endpoint.split("://", 1)[-1] or None,
            scheme=scheme,
        )
        return s3, uri.removeprefix("s3://")
    fs, path = pafs.FileSystem.from_uri(uri)
    return fs, path


class Landing:
    """The landing root: `<root>/<feed>/landing/*.json` for customer, accelerometer and step_trainer."""

    def __init__(self, root: str, storage_options: Mapping[str, str]) -> None:
        self.root = root
        self.fs, self.base = _filesystem(root, storage_options)

    def check_layout(self) -> None:
        missing = [
            f"{f.name}/landing"
            for f in REGISTRY.feeds
            if self.fs.get_file_info(f"{self.base}/{f.name}/landing").type != pafs.FileType.Directory
        ]
        if missing:
            expected = ", ".join(f"<landing>/{f.name}/landing/*.json" for f in REGISTRY.feeds)
            raise LayoutError(
                f"landing root {self.root} lacks {', '.join(missing)}: expected the layout {expected} "
                "(create the empty folders for feeds that have no files yet)"
            )

    def files(self, feed: str) -> list[LandingFile]:
        selector = pafs.FileSelector(f"{self.base}/{feed}/landing", recursive=False)
        infos = [
            i
            for i in self.fs.get_file_info(selector)
            if i.type == pafs.FileType.File
            and i.base_name.endswith(LANDING_SUFFIXES)
            and not i.base_name.startswith(".")
        ]
        return sorted(
            (LandingFile(i.path, int(i.size or 0), int(i.mtime_ns or 0)) for i in infos), key=lambda f: f.path
        )

    def size(self) -> int:
        """Bytes of every landing file of every feed."""
        return sum(f.size for feed in REGISTRY.feeds for f in self.files(feed.name))

    def read_bytes(self, path: str) -> bytes:
        with self.fs.open_input_stream(path, compression=None) as stream:
            return bytes(stream.read())

    def display_name(self, path: str) -> str:
        """The file's path relative to the landing root (what lineage columns record)."""
        return path.removeprefix(self.base).lstrip("/")
