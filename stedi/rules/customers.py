"""customer_trusted and customer_curated."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from stedi.policy import Policy
from stedi.rules import RuleResult
from stedi.rules.keys import first_per_key, normalise_email
from stedi.rules.suspension import suspended_customers
from stedi.schemas import CUSTOMER

KEY = "_key"


def latest_customer_records(customers: pa.Table) -> pa.Table:
    """The newest record per normalised email, with that key in `_key`.

    Ties on lastUpdateDate go to the record without consent, then to the later consent date, so an
    ambiguous revocation is never lost (under `strict` such a customer is suspended anyway).
    """
    keyed = customers.select(CUSTOMER.schema.names).append_column(KEY, normalise_email(customers["email"]))
    revoked = pc.is_null(keyed["shareWithResearchAsOfDate"])
    keyed = keyed.append_column("_revoked", revoked)
    order = [
        ("lastUpdateDate", "descending"),
        ("_revoked", "descending"),
        ("shareWithResearchAsOfDate", "descending"),
        ("registrationDate", "descending"),
        ("serialNumber", "descending"),
        ("customerName", "descending"),
        ("phone", "descending"),
        ("birthDay", "descending"),
    ]
    return first_per_key(keyed, KEY, order).drop_columns(["_revoked"])


def customer_trusted(customers: pa.Table, policy: Policy, quarantined: pa.Table | None = None) -> RuleResult:
    """Customers who agreed to share their data for research.

    `udacity`: every record with a consent date. `strict`: per customer (normalised email) the newest
    record, kept when it consents and the customer is not suspended (fails closed; see
    stedi.rules.suspension, which also says what `quarantined` and the lineage columns of
    `customers` are for).
    """
    if policy is Policy.UDACITY:
        kept = customers.filter(pc.is_valid(customers["shareWithResearchAsOfDate"]))
        return RuleResult(kept.select(CUSTOMER.schema.names), {"customer_records": customers.num_rows})
    latest = latest_customer_records(customers)
    suspensions = suspended_customers(customers, quarantined)
    suspended = pc.is_in(latest[KEY], value_set=suspensions.keys)
    n_suspended = int(pc.sum(suspended).as_py() or 0)
    kept = latest.filter(pc.and_(pc.is_valid(latest["shareWithResearchAsOfDate"]), pc.invert(suspended)))
    counts = {
        "customer_records": customers.num_rows,
        "customers": latest.num_rows,
        "suspended_customers": n_suspended,
        "latest_record_without_consent": latest.num_rows - n_suspended - kept.num_rows,
        "suspensions_unidentified": suspensions.unidentified,
    }
    return RuleResult(kept.select(CUSTOMER.schema.names), counts)


def customer_curated(trusted: pa.Table, readings: pa.Table, policy: Policy) -> RuleResult:
    """Consenting customers with at least one trusted accelerometer reading, one row each."""
    users = pc.unique(readings["user"].combine_chunks() if readings.num_rows else pa.array([], pa.string()))
    if policy is Policy.UDACITY:
        kept = trusted.filter(pc.is_in(trusted["email"], value_set=users))
        keyed = kept.append_column(KEY, kept["email"])
    else:
        keys = normalise_email(users)
        keyed = trusted.append_column(KEY, normalise_email(trusted["email"]))
        keyed = keyed.filter(pc.is_in(keyed[KEY], value_set=keys))
    one_each = first_per_key(keyed, KEY, [("lastUpdateDate", "descending")]).drop_columns([KEY])
    counts = {"consenting_without_readings": trusted.num_rows - keyed.num_rows}
    return RuleResult(one_each.select(CUSTOMER.schema.names), counts)
