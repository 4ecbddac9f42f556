"""The customer facts the audits check every derived table against, read from the lake."""

from __future__ import annotations

from stedi.audit import CustomerFacts, customer_facts
from stedi.customer_inputs import customer_quarantine, customer_records
from stedi.policy import Policy
from stedi.storage import Lake


def audit_facts(lake: Lake, policy: Policy, salt: bytes | None = None) -> CustomerFacts:
    """Consent and ownership as the audits compute them, from customer_landing and quarantine."""
    return customer_facts(customer_records(lake), customer_quarantine(lake), policy, salt)
