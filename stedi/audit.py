"""Audit frames: a table plus the columns its suite needs to check cross-table privacy rules.

The audit columns are computed here independently of the rule that built the table, so a rule
that lets a wrong row through is caught by its suite before the table is published.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from stedi.policy import Policy
from stedi.rules.keys import normalise_email
from stedi.rules.readings import consent_lookup


def customer_keys(customers: pa.Table, policy: Policy) -> pa.Array | pa.ChunkedArray:
    return customers["email"] if policy is Policy.UDACITY else normalise_email(customers["email"])


def audit_customer_trusted(table: pa.Table, policy: Policy) -> pa.Table:
    return table.append_column("_key", customer_keys(table, policy))


def audit_accelerometer_trusted(table: pa.Table, customer_trusted: pa.Table, policy: Policy) -> pa.Table:
    return table.append_column(
        "_consent_at", consent_lookup(table, "user", customer_trusted, "email", policy)
    )


def audit_step_trainer_trusted(table: pa.Table, customer_curated: pa.Table, policy: Policy) -> pa.Table:
    consent = consent_lookup(table, "serialNumber", customer_curated, "serialNumber", policy)
    return table.append_column("_consent_at", consent)


def audit_customer_curated(table: pa.Table, accelerometer_trusted: pa.Table, policy: Policy) -> pa.Table:
    users = pc.unique(accelerometer_trusted["user"].combine_chunks())
    users = users if policy is Policy.UDACITY else normalise_email(users)
    keys = customer_keys(table, policy)
    return table.append_column("_key", keys).append_column("_has_readings", pc.is_in(keys, value_set=users))
