"""Audits: the definitions of the derived tables written again, as SQL on DuckDB, to check the rules.

`customer_facts` turns the customer inputs (customer_landing and the customer rows of quarantine)
into consent in force and device ownership in time; `audit_<table>` appends to a candidate table
(the rows a rule produced, whole or one partition) the columns its suite checks. Nothing here
imports `stedi.rules`: a rule broken on purpose is caught by its suite before it is published.
"""

from __future__ import annotations

from stedi.audit.facts import CustomerFacts, customer_facts
from stedi.audit.tables import (
    AUDIT_COLUMNS,
    audit_accelerometer_trusted,
    audit_customer_curated,
    audit_customer_trusted,
    audit_machine_learning_curated,
    audit_schema,
    audit_step_trainer_trusted,
)

__all__ = [
    "AUDIT_COLUMNS",
    "CustomerFacts",
    "audit_accelerometer_trusted",
    "audit_customer_curated",
    "audit_customer_trusted",
    "audit_machine_learning_curated",
    "audit_schema",
    "audit_step_trainer_trusted",
    "customer_facts",
]
