"""Arrow schemas of every table, and the landing feeds' field rules."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

# Epoch-millisecond times outside [2000-01-01, 2100-01-01) are not plausible readings or dates.
MIN_PLAUSIBLE_MS = 946_684_800_000
MAX_PLAUSIBLE_MS = 4_102_444_800_000

LINEAGE_FIELDS = (
    pa.field("_extra", pa.string()),
    pa.field("_record_id", pa.binary(), nullable=False),
    pa.field("_source_file", pa.string(), nullable=False),
    pa.field("_ingested_at", pa.timestamp("us", tz="UTC"), nullable=False),
)
LINEAGE_NAMES = tuple(f.name for f in LINEAGE_FIELDS)


@dataclass(frozen=True)
class Feed:
    """One landing feed: its folder, its source fields, which are required and which are epoch-ms times."""

    name: str
    schema: pa.Schema
    required: tuple[str, ...]
    times: tuple[str, ...]

    @property
    def landing_table(self) -> str:
        return f"{self.name}_landing"

    @property
    def content_columns(self) -> list[str]:
        """What makes two records the same record: the source fields and unknown keys."""
        return [*self.schema.names, "_extra"]

    @property
    def landing_schema(self) -> pa.Schema:
        return pa.schema(list(self.schema) + list(LINEAGE_FIELDS))

    def canonical_key(self, key: str) -> str | None:
        """Map a JSON key to its field name, ignoring case (older data used `timeStamp`)."""
        return _KEY_INDEX[self.name].get(key.strip().lower())


CUSTOMER = Feed(
    name="customer",
    schema=pa.schema(
        [
            ("customerName", pa.string()),
            ("email", pa.string()),
            ("phone", pa.string()),
            ("birthDay", pa.string()),
            ("serialNumber", pa.string()),
            ("registrationDate", pa.int64()),
            ("lastUpdateDate", pa.int64()),
            ("shareWithResearchAsOfDate", pa.int64()),
            ("shareWithPublicAsOfDate", pa.int64()),
            ("shareWithFriendsAsOfDate", pa.int64()),
        ]
    ),
    required=("email",),
    times=(
        "registrationDate",
        "lastUpdateDate",
        "shareWithResearchAsOfDate",
        "shareWithPublicAsOfDate",
        "shareWithFriendsAsOfDate",
    ),
)
ACCELEROMETER = Feed(
    name="accelerometer",
    schema=pa.schema(
        [
            ("user", pa.string()),
            ("timestamp", pa.int64()),
            ("x", pa.float64()),
            ("y", pa.float64()),
            ("z", pa.float64()),
        ]
    ),
    required=("user", "timestamp"),
    times=("timestamp",),
)
STEP_TRAINER = Feed(
    name="step_trainer",
    schema=pa.schema(
        [("sensorReadingTime", pa.int64()), ("serialNumber", pa.string()), ("distanceFromObject", pa.int64())]
    ),
    required=("sensorReadingTime", "serialNumber"),
    times=("sensorReadingTime",),
)
FEEDS = (CUSTOMER, ACCELEROMETER, STEP_TRAINER)
FEEDS_BY_NAME = {f.name: f for f in FEEDS}
_KEY_INDEX = {f.name: {n.lower(): n for n in f.schema.names} for f in FEEDS}

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("feed", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("line_number", pa.int64(), nullable=False),
        pa.field("reason_code", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw_line", pa.string(), nullable=False),
        pa.field("_ingested_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)

ML_COLUMNS = ("subject_id", "sensorReadingTime", "distanceFromObject", "x", "y", "z")
ML_SCHEMA = pa.schema(
    [
        ("subject_id", pa.string()),
        ("sensorReadingTime", pa.int64()),
        ("distanceFromObject", pa.int64()),
        ("x", pa.float64()),
        ("y", pa.float64()),
        ("z", pa.float64()),
    ]
)

# Where every table lives under the lakehouse root: <zone>/<table>.
TABLE_ZONES: dict[str, str] = {
    "ingest_log": "landing",
    "customer_landing": "landing",
    "accelerometer_landing": "landing",
    "step_trainer_landing": "landing",
    "quarantine": "landing",
    "customer_trusted": "trusted",
    "accelerometer_trusted": "trusted",
    "step_trainer_trusted": "trusted",
    "customer_curated": "curated",
    "machine_learning_curated": "curated",
}

# Tables of the privacy lifecycle (erasure requests, erasure log, tombstones): <lakehouse>/privacy/<table>.
PRIVACY_TABLE_ZONES: dict[str, str] = {
    "erasure_requests": "privacy",
    "erasure_log": "privacy",
    "tombstones": "privacy",
}

# Delta table properties set when a table is created. Columns that hold personal data get no
# min/max statistics: delta-rs writes per-file statistics into the _delta_log JSON, where they would
# outlive a delete + vacuum of the data. Only the columns listed here are indexed.
TABLE_PROPERTIES: dict[str, dict[str, str]] = {
    "customer_landing": {
        "delta.dataSkippingStatsColumns": "registrationDate,lastUpdateDate,shareWithResearchAsOfDate,"
        "shareWithPublicAsOfDate,shareWithFriendsAsOfDate,_source_file,_ingested_at"
    },
    "accelerometer_landing": {"delta.dataSkippingStatsColumns": "timestamp,x,y,z,_source_file,_ingested_at"},
    "step_trainer_landing": {
        "delta.dataSkippingStatsColumns": "sensorReadingTime,distanceFromObject,_source_file,_ingested_at"
    },
    "quarantine": {"delta.dataSkippingStatsColumns": "feed,source_file,line_number,reason_code,_ingested_at"},
    "customer_trusted": {
        "delta.dataSkippingStatsColumns": "registrationDate,lastUpdateDate,shareWithResearchAsOfDate,"
        "shareWithPublicAsOfDate,shareWithFriendsAsOfDate"
    },
    "accelerometer_trusted": {"delta.dataSkippingStatsColumns": "timestamp,x,y,z"},
    "step_trainer_trusted": {"delta.dataSkippingStatsColumns": "sensorReadingTime,distanceFromObject"},
    "customer_curated": {
        "delta.dataSkippingStatsColumns": "registrationDate,lastUpdateDate,shareWithResearchAsOfDate,"
        "shareWithPublicAsOfDate,shareWithFriendsAsOfDate"
    },
    "machine_learning_curated": {
        "delta.dataSkippingStatsColumns": "sensorReadingTime,distanceFromObject,x,y,z"
    },
    "erasure_requests": {"delta.dataSkippingStatsColumns": "requested_at"},
}


@dataclass(frozen=True)
class Layout:
    """How a large table is laid out: Delta partition columns and the columns maintenance Z-orders on.

    `partition_by` is passed to every write of the table (Lake.write); `cluster_by` is applied by the
    maintenance flow, which rewrites the table into about `files` files (at most `max_file_bytes` each)
    whose time and subject ranges barely overlap, so a query of one day or one subject skips most files.
    """

    partition_by: tuple[str, ...] = ()
    cluster_by: tuple[str, ...] = ()
    files: int = 128
    max_file_bytes: int = 128 * 2**20


# The trusted and curated reading tables are read by time (one day for training) and ordered by it:
# Z-order over (time, subject) spread each day over most files and made a one-day query slower
# (0.47 s against 0.02 s at 10M). Landing tables are only compacted: their rows are replaced per
# source file, and reordering them would spread each source file over every Parquet file.
# Customer tables stay small and are compacted only.
TABLE_LAYOUT: dict[str, Layout] = {
    "accelerometer_trusted": Layout(cluster_by=("timestamp",)),
    "step_trainer_trusted": Layout(cluster_by=("sensorReadingTime",)),
    "machine_learning_curated": Layout(cluster_by=("sensorReadingTime",)),
}
