"""Arrow schemas of every table, and the landing feeds' field rules."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import pyarrow as pa
import pyarrow.compute as pc

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
# Reading feeds are partitioned by the UTC day of the reading: duplicate checks, the trusted filters
# and the ML join all work one day at a time (readings of the same time always share a day).
DAY = "_day"
DAY_FIELD = pa.field(DAY, pa.date32(), nullable=False)
MS_PER_DAY = 86_400_000


@dataclass(frozen=True)
class Feed:
    """One landing feed: its folder, its source fields, which are required and which are epoch-ms times."""

    name: str
    schema: pa.Schema
    required: tuple[str, ...]
    times: tuple[str, ...]
    reading_time: str | None = None  # the time a reading was taken: its day partitions the table

    @property
    def landing_table(self) -> str:
        return f"{self.name}_landing"

    @property
    def content_columns(self) -> list[str]:
        """What makes two records the same record: the source fields and unknown keys."""
        return [*self.schema.names, "_extra"]

    @property
    def landing_schema(self) -> pa.Schema:
        day = [DAY_FIELD] if self.reading_time else []
        return pa.schema(list(self.schema) + list(LINEAGE_FIELDS) + day)

    @property
    def partition_by(self) -> tuple[str, ...]:
        return (DAY,) if self.reading_time else ()

    def canonical_key(self, key: str) -> str | None:
        """Map a JSON key to its field name, ignoring case (older data used `timeStamp`)."""
        return self._key_index.get(key.strip().lower())

    @cached_property
    def _key_index(self) -> dict[str, str]:
        return {n.lower(): n for n in self.schema.names}


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
    reading_time="timestamp",
)
STEP_TRAINER = Feed(
    name="step_trainer",
    schema=pa.schema(
        [("sensorReadingTime", pa.int64()), ("serialNumber", pa.string()), ("distanceFromObject", pa.int64())]
    ),
    required=("sensorReadingTime", "serialNumber"),
    times=("sensorReadingTime",),
    reading_time="sensorReadingTime",
)
FEEDS = (CUSTOMER, ACCELEROMETER, STEP_TRAINER)


def days_of(times: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """The UTC day (date32) of epoch-millisecond times."""
    return pc.divide(times, MS_PER_DAY).cast(pa.int32()).cast(pa.date32())


FEEDS_BY_NAME = {f.name: f for f in FEEDS}

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
