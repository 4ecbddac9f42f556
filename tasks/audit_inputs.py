"""The customer facts the audits check every derived table against, read from the lake."""

from __future__ import annotations

import threading

from stedi.audit import CustomerFacts, customer_facts
from stedi.customer_inputs import customer_quarantine, customer_records
from stedi.policy import Policy
from stedi.storage import Lake

# The salt-free facts of the customer inputs last read in this process, under the identity and version
# of each input table: the customer rules, the units of every reading table and their salted facts
# (which share what the audits prepared) then use one computation per process and build.
_KEPT: dict[tuple[object, ...], CustomerFacts] = {}
_LOCK = threading.Lock()
INPUTS = ("customer_landing", "quarantine")


def audit_facts(lake: Lake, policy: Policy, salt: bytes | None = None) -> CustomerFacts:
    """Consent and ownership as the audits compute them, from customer_landing and quarantine."""
    key = (lake.root, policy, *(_identity(lake, table) for table in INPUTS))
    with _LOCK:
        facts = _KEPT.get(key)
        if facts is None:
            facts = customer_facts(customer_records(lake), customer_quarantine(lake), policy)
            _KEPT.clear()  # a process builds one lakehouse at a time
            _KEPT[key] = facts
    return facts if salt is None else facts.with_salt(salt)


def _identity(lake: Lake, table: str) -> tuple[str, int] | None:
    """The table's id (new when it is created again at the same place) and version; None if absent."""
    if not lake.exists(table):
        return None
    delta = lake.delta(table)
    return str(delta.metadata().id), delta.version()  # a UUID string (typed as int by the stubs)
