"""Right to erasure: remove subjects from every zone, vacuum, clean the Delta logs, record it.

Order matters for a crash halfway: tombstones are written first (later ingests already drop the
subject), the tables next, the erasure log and the drained requests last, so a rerun repeats the
whole erasure (every step is idempotent).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
from prefect import get_run_logger, task
from pydantic import SecretStr

from stedi.build import BUILD, BuildRecord
from stedi.config import RunConfig, subject_salt
from stedi.policy import Policy
from stedi.privacy.keys import keyed_hash, salt_fingerprint
from stedi.privacy.raw import strip_subjects
from stedi.privacy.subjects import (
    TABLE_KEYS,
    ErasureKeys,
    erasure_keys,
    removed_per_subject,
    subjects_of_rows,
)
from stedi.privacy.tables import ERASURE_LOG_SCHEMA, ERASURE_REQUESTS_SCHEMA
from stedi.privacy.tombstones import TOMBSTONES, read_tombstones, tombstone_rows
from stedi.registry import REGISTRY
from stedi.schemas import CUSTOMER
from stedi.storage import Lake, Landing
from tasks.options import TASK_OPTIONS

ERASURE_REQUESTS = "erasure_requests"
ERASURE_LOG = "erasure_log"
ERASABLE_TABLES = tuple(TABLE_KEYS)
# Tables whose rows name their landing file: only the files holding a subject are rewritten.
FILE_COLUMNS = REGISTRY.source_files
DEFAULT_LOG_RETENTION = "interval 30 days"


@dataclass(frozen=True)
class TableErasure:
    """What erasure did to one table: rows removed per subject (keyed hash) and data files vacuumed."""

    table: str
    removed: dict[str, int] = field(default_factory=dict)
    files_vacuumed: int = 0

    @property
    def rows_removed(self) -> int:
        return sum(self.removed.values())


@dataclass(frozen=True)
class ErasureSummary:
    """Counts of one erasure run; holds no identifier at all, so it is safe to log and publish."""

    erasure_id: str
    subjects_requested: int
    subjects_matched: int
    tables: list[TableErasure]
    raw_lines_removed: int = 0

    @property
    def rows_removed(self) -> int:
        return sum(t.rows_removed for t in self.tables)

    @property
    def files_vacuumed(self) -> int:
        return sum(t.files_vacuumed for t in self.tables)

    def to_markdown(self) -> str:
        lines = [
            f"# Erasure {self.erasure_id}",
            "",
            f"{self.subjects_requested} subject(s) requested, {self.subjects_matched} with data found "
            f"(tombstones of earlier erasures applied again); {self.raw_lines_removed} raw landing "
            "record(s) removed.",
            "",
            "| table | rows removed | data files vacuumed |",
            "|---|---:|---:|",
        ]
        lines += [f"| {t.table} | {t.rows_removed:,} | {t.files_vacuumed:,} |" for t in self.tables]
        return "\n".join(lines) + "\n"

    def to_text(self) -> str:
        out = [
            f"erasure {self.erasure_id}: {self.subjects_requested} requested, {self.subjects_matched} "
            f"with data, {self.rows_removed:,} rows removed, {self.files_vacuumed:,} files vacuumed, "
            f"{self.raw_lines_removed:,} raw records removed"
        ]
        out += [f"  {t.table}: {t.rows_removed:,} rows, {t.files_vacuumed:,} files" for t in self.tables]
        return "\n".join(out)


def queue_erasure_requests(lake: Lake, emails: list[SecretStr]) -> int:
    """Append requests to erasure_requests (the only privacy table with plaintext, drained by erasure)."""
    now = datetime.now(UTC)
    rows = pa.Table.from_pylist(
        [{"email": e.get_secret_value(), "requested_at": now} for e in emails], schema=ERASURE_REQUESTS_SCHEMA
    )
    lake.write(ERASURE_REQUESTS, rows, mode="append")
    return int(rows.num_rows)


# Results holding plaintext are never persisted, whatever the Prefect result settings say.
@task(name="take_erasure_requests", **{**TASK_OPTIONS, "persist_result": False})
def take_erasure_requests(config: RunConfig) -> list[tuple[SecretStr, datetime]]:
    """The pending requests of erasure_requests (they are removed once the erasure is recorded)."""
    lake = Lake.of(config)
    if not lake.exists(ERASURE_REQUESTS):
        return []
    pending = lake.read(ERASURE_REQUESTS).to_pylist()
    get_run_logger().info("%d pending erasure request(s)", len(pending))
    return [(SecretStr(r["email"]), r["requested_at"]) for r in pending if r["email"]]


@task(name="plan_erasure", **{**TASK_OPTIONS, "persist_result": False})
def plan_erasure(config: RunConfig, emails: list[SecretStr]) -> ErasureKeys:
    """Keys of the subjects to erase (request plus earlier tombstones); writes the new tombstones first."""
    lake = Lake.of(config)
    salt = subject_salt(config.lakehouse).value
    customers = (
        lake.read("customer_landing", CUSTOMER.schema.names)
        if lake.exists("customer_landing")
        else CUSTOMER.schema.empty_table()
    )
    tombstones = read_tombstones(lake)
    steps = (
        lake.read("step_trainer_landing", ["serialNumber", "sensorReadingTime"])
        if emails and lake.exists("step_trainer_landing")
        else None
    )
    keys = erasure_keys([e.get_secret_value() for e in emails], customers, tombstones, salt, steps)
    rows = tombstone_rows(keys.emails, keys.serials, salt, datetime.now(UTC), keys.serial_periods)
    new = rows.filter(pc.invert(pc.is_in(_identity(rows), value_set=_identity(tombstones.table))))
    if new.num_rows:
        # A tombstone table written before serial periods existed gains their (null: unbounded) columns.
        lake.write(TOMBSTONES, new, mode="append", schema_mode="merge")
    get_run_logger().info(
        "erasure plan: %d requested, %d subjects with tombstones, %d device(s) (for the times the subjects' "
        "records named them), %d of them also named by other customers",
        len(keys.requested_subjects),
        len(keys.subjects),
        len(keys.serials),
        keys.kept_serials,
    )
    return keys


def _identity(tombstones: pa.Table) -> pa.Array:
    """kind, hash and period of each tombstone row as one string: what makes a tombstone new."""
    parts = [
        tombstones["kind"],
        tombstones["hash"],
        pc.cast(tombstones["valid_from"], pa.string()),
        pc.cast(tombstones["valid_until"], pa.string()),
    ]
    return pc.binary_join_element_wise(*[pc.fill_null(p, "-") for p in parts], "|").combine_chunks()


def _in_predicate(column: str, values: list[str]) -> str:
    quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"{column} IN ({quoted})"


def protect_statistics(lake: Lake, table: str) -> None:
    """Give a table created before its spec's properties its no-statistics-on-personal-columns setting."""
    wanted = REGISTRY[table].properties
    dt = lake.delta(table)
    current = dt.metadata().configuration
    if any(current.get(k) != v for k, v in wanted.items()):
        dt.alter.set_table_properties(dict(wanted))


def purge_history(lake: Lake, table: str) -> int:
    """Vacuum every data file not in the current version, then drop the log before a new checkpoint.

    Retention 0 with the retention check off, for this operation only: time travel to any version
    before the erasure is lost, because those versions' files (and the log entries with their
    statistics and predicates) are what still held the subject. Returns the data files deleted.
    """
    dt = lake.delta(table)
    deleted = dt.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
    previous = dt.metadata().configuration.get("delta.logRetentionDuration")
    dt.alter.set_table_properties({"delta.logRetentionDuration": "interval 0 seconds"})
    dt = lake.delta(table)
    dt.create_checkpoint()
    dt.cleanup_metadata()
    dt.alter.set_table_properties({"delta.logRetentionDuration": previous or DEFAULT_LOG_RETENTION})
    return len(deleted)


def _joined_on_time(lake: Lake, table: str) -> bool:
    """machine_learning_curated built under `udacity` (or by an unknown build): its step side names no one."""
    if table != "machine_learning_curated":
        return False
    found = lake.build_info(table, BUILD)
    built = BuildRecord.parse(found[1].get(BUILD)) if found else None
    return built is None or built.policy != Policy.STRICT.value


@task(name="erase_from_table", task_run_name="erase-{table}", **TASK_OPTIONS)
def erase_from_table(config: RunConfig, table: str, keys: ErasureKeys) -> TableErasure:
    """Remove the subjects' rows from `table`, then purge its history (vacuum + log cleanup)."""
    lake = Lake.of(config)
    if not lake.exists(table):
        return TableErasure(table)
    protect_statistics(lake, table)
    salt = subject_salt(config.lakehouse).value
    rows = lake.read(table)
    subjects = subjects_of_rows(table, rows, keys, salt, step_side=_joined_on_time(lake, table))
    removed = removed_per_subject(subjects)
    if removed:
        keep = pc.is_null(subjects)
        column = FILE_COLUMNS.get(table)
        if column:
            # Rewrite only the files that held a subject; the predicate names files, never a subject.
            files = sorted(pc.unique(rows.filter(pc.invert(keep))[column]).to_pylist())
            in_files = pc.is_in(rows[column], value_set=pa.array(files, pa.string()))
            lake.write(table, rows.filter(pc.and_(keep, in_files)), predicate=_in_predicate(column, files))
        else:
            lake.write(table, rows.filter(keep))
    vacuumed = purge_history(lake, table)
    get_run_logger().info(
        "%s: %d rows removed, %d data files vacuumed", table, sum(removed.values()), vacuumed
    )
    return TableErasure(table, removed, vacuumed)


@task(name="erase_from_raw_landing", **TASK_OPTIONS)
def erase_from_raw_landing(config: RunConfig, keys: ErasureKeys) -> int:
    """Rewrite the raw landing files without the subjects' records; returns the records removed."""
    landing = Landing(config.landing, config.storage_options)
    landing.check_layout()
    salt = subject_salt(config.lakehouse).value
    removed = files = 0
    for feed in ("customer", "accelerometer", "step_trainer"):
        for file in landing.files(feed):
            data = landing.read_bytes(file.path)
            stripped, n = strip_subjects(data, file.path.endswith(".gz"), keys, salt)
            if n:
                with landing.fs.open_output_stream(file.path, compression=None) as out:
                    out.write(stripped)
                removed += n
                files += 1
    get_run_logger().info("raw landing: %d records removed from %d files", removed, files)
    return removed


@task(name="record_erasure", **TASK_OPTIONS)
def record_erasure(
    config: RunConfig,
    keys: ErasureKeys,
    tables: list[TableErasure],
    raw_lines_removed: int,
    requested_at: datetime,
    drained: list[tuple[SecretStr, datetime]],
) -> ErasureSummary:
    """Append the erasure log (keyed hashes and counts only) and drain the handled requests."""
    lake = Lake.of(config)
    salt = subject_salt(config.lakehouse).value
    erasure_id = uuid.uuid4().hex[:12]
    now = datetime.now(UTC)
    requested = set(keys.requested_subjects)
    # A queued request keeps the time it was made (the legal clock starts then).
    request_times: dict[str, datetime] = {}
    for email, at in drained:
        subject = keyed_hash(email.get_secret_value(), salt)
        request_times[subject] = min(at, request_times.get(subject, at))
    touched = {s for t in tables for s in t.removed}
    rows = [
        {
            "erasure_id": erasure_id,
            "subject": subject,
            "requested_at": request_times.get(subject, requested_at) if subject in requested else None,
            "erased_at": now,
            "rows_removed": [(t.table, t.removed.get(subject, 0)) for t in tables],
            "rows_removed_total": sum(t.removed.get(subject, 0) for t in tables),
            "files_vacuumed": sum(t.files_vacuumed for t in tables),
            "raw_lines_removed": raw_lines_removed,
            "salt_fingerprint": salt_fingerprint(salt),
        }
        for subject in sorted(requested | touched)
    ]
    if rows:
        lake.write(ERASURE_LOG, pa.Table.from_pylist(rows, schema=ERASURE_LOG_SCHEMA), mode="append")
    if drained and lake.exists(ERASURE_REQUESTS):
        handled = pa.array(sorted({e.get_secret_value() for e, _ in drained}), pa.string())
        pending = lake.read(ERASURE_REQUESTS)
        lake.write(ERASURE_REQUESTS, pending.filter(pc.invert(pc.is_in(pending["email"], value_set=handled))))
        purge_history(lake, ERASURE_REQUESTS)
    summary = ErasureSummary(
        erasure_id, len(keys.requested_subjects), len(touched), tables, raw_lines_removed
    )
    get_run_logger().info(
        "erasure %s: %d requested, %d with data, %d rows removed, %d files vacuumed",
        erasure_id,
        summary.subjects_requested,
        summary.subjects_matched,
        summary.rows_removed,
        summary.files_vacuumed,
    )
    return summary
