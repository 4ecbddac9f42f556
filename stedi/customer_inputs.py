"""What the customer rules read: the customer records with their lineage, and the customer quarantine."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from stedi.schemas import CUSTOMER, QUARANTINE_SCHEMA
from stedi.storage import Lake

# Lineage the strict consent rule orders records by (which arrived after which).
LINEAGE = ["_ingested_at", "_source_file"]


def customer_records(lake: Lake) -> pa.Table:
    """customer_landing's source fields plus `_ingested_at` and `_source_file`."""
    return lake.read("customer_landing", [*CUSTOMER.schema.names, *LINEAGE])


def customer_quarantine(lake: Lake) -> pa.Table:
    """The quarantined customer lines (a quarantined consent or time field suspends a customer)."""
    if not lake.exists("quarantine"):
        return QUARANTINE_SCHEMA.empty_table()
    return lake.scan("quarantine", filter=pc.field("feed") == "customer")
