"""What an append of new landing rows may assume: pure checks and count arithmetic for the append path.

The derived tables can absorb new landing rows by appending only when no decision about an old row
changes. Old readings are decided by the customer records (consent, revocation, device ownership), so
the customer side is compared before and after; new customers are allowed as long as they do not
touch anything an older customer record decided.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pyarrow as pa
import pyarrow.compute as pc

from stedi.policy import Policy
from stedi.rules.customers import KEY, customer_trusted, latest_customer_records
from stedi.rules.keys import lookup, normalise_email, normalise_serial
from stedi.rules.ownership import device_owners
from stedi.rules.suspension import suspended_customers

# Counts that describe the customer records as a whole rather than add up over readings.
LEVEL_COUNTS = frozenset({"shared_serials"})
# Counts of what one run did; never carried into the next run's totals.
RUN_PREFIX = "run_"


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([(c, "ascending") for c in table.column_names])


def customer_change(old: pa.Table, new: pa.Table, policy: Policy) -> str | None:
    """Why the customer records `new` (a superset of `old`) change a decision about old rows; None if not.

    strict: every existing customer's latest record, suspension (by its records) and device history
    must be unchanged, and no new customer may name a device any existing record named (that would
    change or share its ownership at some time). Quarantined lines are not seen here: a run whose new
    quarantine suspends an existing customer needs a full build.
    udacity: no new consenting record for an email that already had one (its curated row could change).
    """
    if policy is Policy.UDACITY:
        before = customer_trusted(old, policy).table
        after = customer_trusted(new, policy).table
        known = pc.is_in(after["email"], value_set=before["email"].combine_chunks())
        if int(pc.sum(known).as_py() or 0) != before.num_rows:
            return "a consenting customer got another consenting record"
        return None
    latest_old = latest_customer_records(old)
    latest_new = latest_customer_records(new)
    old_keys = latest_old[KEY].combine_chunks()
    existing = latest_new.filter(pc.is_in(latest_new[KEY], value_set=old_keys))
    if not _sorted(existing).equals(_sorted(latest_old)):
        return "an existing customer's latest record changed (consent, revocation or device)"
    before, after = suspended_customers(old).keys, suspended_customers(new).keys
    if set(after.filter(pc.is_in(after, value_set=old_keys)).to_pylist()) != set(before.to_pylist()):
        return "an existing customer's newest record became unclear (suspended)"
    old_serials = pc.unique(pc.drop_null(normalise_serial(old["serialNumber"])).combine_chunks())
    new_serials = new.filter(pc.invert(pc.is_in(normalise_email(new["email"]), value_set=old_keys)))
    if pc.any(pc.is_in(normalise_serial(new_serials["serialNumber"]), value_set=old_serials)).as_py():
        return "a new customer names a device an existing customer named"
    segments_before = device_owners(old).segments
    segments_after = device_owners(new).segments
    segments_after = segments_after.filter(pc.is_in(segments_after["serialNumber"], value_set=old_serials))
    if not _sorted(segments_after).equals(_sorted(segments_before)):
        return "an existing customer's device history changed"
    return None


def consent_change(stored: pa.Table, recomputed: pa.Table, policy: Policy) -> str | None:
    """Why customer_trusted as recomputed now drops or changes a customer it holds; None if it does not.

    Catches what the customer records alone do not show: a quarantined line that suspends an existing
    customer (strict), so such a run rebuilds instead of appending.
    """
    before = _consents(stored, policy)
    after = _consents(recomputed, policy)
    if not pc.all(pc.is_in(before, value_set=after)).as_py():
        return "a consenting customer's consent changed or was suspended"
    return None


def _consents(trusted: pa.Table, policy: Policy) -> pa.Array:
    """key|consent per customer_trusted row."""
    consent = pc.fill_null(pc.cast(trusted["shareWithResearchAsOfDate"], pa.string()), "-")
    keys = pc.fill_null(key_column(trusted, policy), "-")
    return pc.binary_join_element_wise(keys, consent, "|").combine_chunks()


def rows_of(column: pa.ChunkedArray | pa.Array, keys: pa.Array, normalise: bool) -> pa.ChunkedArray:
    """True where a value of `column` (a user or a serial) is one of `keys`; by dictionary, so cheap."""
    found = lookup(column, keys, pa.array([True] * len(keys), pa.bool_()), normalise=normalise)
    return pc.fill_null(found, False)


def key_column(customers: pa.Table, policy: Policy) -> pa.ChunkedArray:
    """Per customer row, its key under the policy."""
    return customers["email"] if policy is Policy.UDACITY else normalise_email(customers["email"])


def customer_keys(customers: pa.Table, policy: Policy) -> pa.Array:
    """The distinct keys readings are matched on: the email (udacity) or the normalised email (strict)."""
    return pc.unique(key_column(customers, policy).combine_chunks())


def absorb(
    base: Mapping[str, int],
    delta: Mapping[str, int],
    reclassified: int = 0,
    moved_from: str = "",
    total: str = "readings",
) -> dict[str, int]:
    """The table's totals after an append, plus this run's own counts under `run_` names.

    `delta` is the rule's counts over the rows this run looked at: the new landing rows and
    `reclassified` old rows that a new customer now decides. Those old rows were counted before,
    under `moved_from`, and stay in `total` once.
    """
    totals = {k: v for k, v in base.items() if not k.startswith(RUN_PREFIX)}
    for key, value in delta.items():
        totals[key] = value if key in LEVEL_COUNTS else totals.get(key, 0) + value
    if reclassified:
        totals[total] = totals.get(total, 0) - reclassified
        totals[moved_from] = totals.get(moved_from, 0) - reclassified
    run = {f"{RUN_PREFIX}{k}": v for k, v in delta.items() if k not in LEVEL_COUNTS}
    return totals | run | {f"{RUN_PREFIX}reclassified": reclassified}


def add_counts(parts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """The counts of a rule run over a table in chunks: added up, except the whole-table ones."""
    total: dict[str, int] = {}
    for part in parts:
        for key, value in part.items():
            total[key] = value if key in LEVEL_COUNTS else total.get(key, 0) + value
    return total
