"""The append path's pure checks: which customer changes allow an append, and how counts add up."""

from __future__ import annotations

import pyarrow as pa

from stedi.policy import Policy
from stedi.rules.increments import absorb, consent_change, customer_change
from tests.tables import customers

ANN = {"email": "ann@x.test", "serialNumber": "a", "lastUpdateDate": 1, "shareWithResearchAsOfDate": 5}
BOB = {"email": "bob@x.test", "serialNumber": "b", "lastUpdateDate": 1}


def test_new_customers_with_new_devices_allow_an_append() -> None:
    cy = {"email": "cy@x.test", "serialNumber": "c", "lastUpdateDate": 1, "shareWithResearchAsOfDate": 5}
    for policy in Policy:
        assert customer_change(customers(ANN, BOB), customers(ANN, BOB, cy), policy) is None


def test_a_revocation_of_an_existing_customer_forces_a_rebuild_under_strict() -> None:
    revoked = dict(ANN, email=" ANN@x.test", lastUpdateDate=2, shareWithResearchAsOfDate=None)
    old, new = customers(ANN, BOB), customers(ANN, BOB, revoked)
    assert customer_change(old, new, Policy.STRICT) == (
        "an existing customer's latest record changed (consent, revocation or device)"
    )
    assert customer_change(old, new, Policy.UDACITY) is None  # udacity keeps every consenting record


def test_an_older_record_of_an_existing_customer_changes_nothing() -> None:
    older = dict(ANN, lastUpdateDate=0, shareWithResearchAsOfDate=None)
    assert customer_change(customers(ANN, BOB), customers(ANN, BOB, older), Policy.STRICT) is None


def test_a_new_customer_on_an_existing_device_forces_a_rebuild_under_strict() -> None:
    twin = {"email": "dee@x.test", "serialNumber": "b", "lastUpdateDate": 1}
    assert customer_change(customers(ANN, BOB), customers(ANN, BOB, twin), Policy.STRICT) == (
        "a new customer names a device an existing customer named"
    )


def test_a_second_consenting_record_forces_a_rebuild_under_udacity() -> None:
    again = dict(ANN, lastUpdateDate=3)
    assert customer_change(customers(ANN), customers(ANN, again), Policy.UDACITY) == (
        "a consenting customer got another consenting record"
    )


def test_absorbed_counts_are_totals_plus_this_runs_counts() -> None:
    base = {"readings": 10, "of_non_consenting_owners": 4, "before_consent": 1, "run_readings": 10}
    delta = {"readings": 5, "of_non_consenting_owners": 1, "before_consent": 0}
    # 2 of the 5 rows were old readings of a customer who consented since: counted before as non-consenting.
    assert absorb(base, delta, reclassified=2, moved_from="of_non_consenting_owners") == {
        "readings": 13,
        "of_non_consenting_owners": 3,
        "before_consent": 1,
        "run_readings": 5,
        "run_of_non_consenting_owners": 1,
        "run_before_consent": 0,
        "run_reclassified": 2,
    }


def test_level_counts_are_replaced_not_added() -> None:
    totals = absorb({"shared_serials": 3, "readings": 1}, {"shared_serials": 4, "readings": 1})
    assert (totals["shared_serials"], totals["readings"]) == (4, 2)


def test_a_suspension_without_a_new_record_forces_a_rebuild() -> None:
    stored = customers(ANN, {**ANN, "email": "cy@x.test"})
    assert consent_change(stored, customers({**ANN, "email": "cy@x.test"}), Policy.STRICT) == (
        "a consenting customer's consent changed or was suspended"
    )
    moved = customers({**ANN, "shareWithResearchAsOfDate": 6}, {**ANN, "email": "cy@x.test"})
    assert consent_change(stored, moved, Policy.STRICT) is not None
    assert consent_change(stored, pa.concat_tables([stored, customers(BOB)]), Policy.STRICT) is None
