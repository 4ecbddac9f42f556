"""A rule broken on purpose is caught by its table's suite before anything is published.

Each test runs a rule on tiny inputs, audits its output as the tasks do before publishing (audit
columns from the independent SQL formulation, then the suite) and shows that the unbroken rule
passes while a broken one raises ValidationFailedError, which stops the publish.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from stedi.audit import (
    CustomerFacts,
    audit_accelerometer_trusted,
    audit_customer_curated,
    audit_customer_trusted,
    audit_machine_learning_curated,
    audit_step_trainer_trusted,
    customer_facts,
)
from stedi.errors import ValidationFailedError
from stedi.policy import Policy
from stedi.rules.curated import machine_learning_curated
from stedi.rules.customers import customer_curated, customer_trusted
from stedi.rules.readings import accelerometer_trusted, step_trainer_trusted
from stedi.schemas import CUSTOMER, ML_SCHEMA
from stedi.validation import validate

C = 1_660_000_000_000
SALT = b"mutation-salt"
STRICT, UDACITY = Policy.STRICT, Policy.UDACITY


def customers(*rows: dict[str, Any]) -> pa.Table:
    base = dict.fromkeys(CUSTOMER.schema.names)
    return pa.Table.from_pylist([{**base, **r} for r in rows], schema=CUSTOMER.schema)


def reading(user: str, t: int, x: float = 1.0) -> dict[str, Any]:
    return {"user": user, "timestamp": t, "x": x, "y": 0.0, "z": -1.0}


def readings(*rows: dict[str, Any]) -> pa.Table:
    schema = pa.schema(
        [("user", pa.string()), ("timestamp", pa.int64())] + [(a, pa.float64()) for a in "xyz"]
    )
    return pa.Table.from_pylist(list(rows), schema=schema)


def steps(*rows: tuple[str, int, int]) -> pa.Table:
    return pa.Table.from_pylist(
        [{"sensorReadingTime": t, "serialNumber": s, "distanceFromObject": d} for s, t, d in rows],
        schema=pa.schema(
            [
                ("sensorReadingTime", pa.int64()),
                ("serialNumber", pa.string()),
                ("distanceFromObject", pa.int64()),
            ]
        ),
    )


# a and b consent at C; c never consented; b's device s1 is also named by d (a fulfilment defect).
LANDING = customers(
    {"email": "a@x.t", "serialNumber": "s0", "lastUpdateDate": C, "shareWithResearchAsOfDate": C},
    {"email": " B@x.t", "serialNumber": "s1", "lastUpdateDate": C, "shareWithResearchAsOfDate": C},
    {"email": "c@x.t", "serialNumber": "s2", "lastUpdateDate": C, "shareWithResearchAsOfDate": None},
    {"email": "d@x.t", "serialNumber": "s1", "lastUpdateDate": C, "shareWithResearchAsOfDate": C},
    # e revoked consent in a newer record
    {"email": "e@x.t", "serialNumber": "s4", "lastUpdateDate": C, "shareWithResearchAsOfDate": C},
    {"email": "e@x.t", "serialNumber": "s4", "lastUpdateDate": C + 9, "shareWithResearchAsOfDate": None},
)
ACCEL = readings(
    reading("a@x.t", C - 1),  # before consent
    reading("a@x.t", C + 1),
    reading("b@x.t", C + 1, x=2.0),
    reading("b@x.t", C + 2),
    reading("c@x.t", C + 1),
    reading("e@x.t", C + 1),
)
STEPS = steps(("s0", C - 1, 10), ("s0", C + 1, 11), ("s1", C + 1, 12), ("s2", C + 1, 13), ("s4", C + 1, 14))


def facts(policy: Policy) -> CustomerFacts:
    return customer_facts(LANDING, None, policy, SALT)


def publish_gate(table: str, frame: pa.Table, policy: Policy) -> None:
    """What the tasks do before a commit: validate the audit frame and raise on a blocking failure."""
    validate(table, frame, policy).raise_if_blocking()


def passes_unbroken_and_blocks_broken(
    table: str, policy: Policy, audited: Callable[[bool], pa.Table]
) -> None:
    publish_gate(table, audited(False), policy)
    with pytest.raises(ValidationFailedError, match=table):
        publish_gate(table, audited(True), policy)


def trusted(policy: Policy) -> pa.Table:
    return customer_trusted(LANDING, policy).table


def accel_trusted(policy: Policy) -> pa.Table:
    return accelerometer_trusted(ACCEL, trusted(policy), policy).table


def curated(policy: Policy) -> pa.Table:
    return customer_curated(trusted(policy), accel_trusted(policy), policy).table


def step_trusted(policy: Policy) -> pa.Table:
    return step_trainer_trusted(STEPS, LANDING, curated(policy), policy).table


@pytest.mark.parametrize("policy", [STRICT, UDACITY])
def test_customer_trusted_that_keeps_a_revoked_or_non_consenting_customer_is_blocked(policy: Policy) -> None:
    def audited(broken: bool) -> pa.Table:
        if broken and policy is STRICT:
            # the rule reads the oldest record of each customer: e's revocation is lost
            older = LANDING.filter(pc.not_equal(LANDING["lastUpdateDate"], C + 9))
            table = customer_trusted(older, policy).table
        elif broken:
            table = LANDING  # the consent filter is gone
        else:
            table = customer_trusted(LANDING, policy).table
        return audit_customer_trusted(table, facts(policy))

    passes_unbroken_and_blocks_broken("customer_trusted", policy, audited)


@pytest.mark.parametrize("policy", [STRICT, UDACITY])
def test_customer_curated_that_keeps_a_customer_without_readings_is_blocked(policy: Policy) -> None:
    def audited(broken: bool) -> pa.Table:
        users = accel_trusted(policy)
        # broken: the rule takes every consenting customer, with or without trusted readings
        table = trusted(policy) if broken else customer_curated(trusted(policy), users, policy).table
        if policy is UDACITY:
            table = table.filter(pc.invert(pc.is_in(table["email"], pa.array(["e@x.t"]))))  # one row each
        return audit_customer_curated(table, facts(policy), users)

    passes_unbroken_and_blocks_broken("customer_curated", policy, audited)


def test_customer_curated_that_keeps_a_non_consenting_customer_is_blocked() -> None:
    def audited(broken: bool) -> pa.Table:
        users = readings(*ACCEL.to_pylist())  # broken: fed the landing readings, c is curated
        rows = customer_curated(LANDING if broken else trusted(STRICT), users, STRICT).table
        if not broken:
            rows = customer_curated(trusted(STRICT), accel_trusted(STRICT), STRICT).table
        return audit_customer_curated(rows, facts(STRICT), users if broken else accel_trusted(STRICT))

    passes_unbroken_and_blocks_broken("customer_curated", STRICT, audited)


@pytest.mark.parametrize("policy", [STRICT, UDACITY])
def test_accelerometer_trusted_without_its_consent_filter_is_blocked(policy: Policy) -> None:
    def audited(broken: bool) -> pa.Table:
        owners = trusted(policy)
        if broken and policy is STRICT:
            # the consent-time filter is gone: every reading of a consenting customer passes
            owners = owners.set_column(
                owners.schema.get_field_index("shareWithResearchAsOfDate"),
                "shareWithResearchAsOfDate",
                pa.array([0] * owners.num_rows, pa.int64()),
            )
        elif broken:
            owners = LANDING.set_column(  # the consent test is gone: every customer's readings pass
                LANDING.schema.get_field_index("shareWithResearchAsOfDate"),
                "shareWithResearchAsOfDate",
                pa.array([C] * LANDING.num_rows, pa.int64()),
            )
        table = accelerometer_trusted(ACCEL, owners, policy).table
        return audit_accelerometer_trusted(table, facts(policy))

    passes_unbroken_and_blocks_broken("accelerometer_trusted", policy, audited)


@pytest.mark.parametrize("policy", [STRICT, UDACITY])
def test_step_trainer_trusted_that_attributes_a_shared_or_uncurated_device_is_blocked(policy: Policy) -> None:
    def audited(broken: bool) -> pa.Table:
        owners = LANDING
        kept = curated(policy)
        if broken and policy is STRICT:
            # the rule forgets d's record: b's shared device s1 is attributed to b alone
            owners = LANDING.filter(pc.not_equal(LANDING["email"], "d@x.t"))
        elif broken:
            kept = pa.concat_tables([kept, LANDING.slice(2, 1)])  # c's device counts as curated
        table = step_trainer_trusted(STEPS, owners, kept, policy).table
        return audit_step_trainer_trusted(table, facts(policy), curated(policy))

    passes_unbroken_and_blocks_broken("step_trainer_trusted", policy, audited)


def test_step_trainer_trusted_that_keeps_readings_before_consent_is_blocked() -> None:
    def audited(broken: bool) -> pa.Table:
        table = step_trainer_trusted(STEPS, LANDING, curated(STRICT), STRICT).table
        if broken:  # the consent-time filter is gone
            table = pa.concat_tables([table, STEPS.slice(0, 1)])
        return audit_step_trainer_trusted(table, facts(STRICT), curated(STRICT))

    passes_unbroken_and_blocks_broken("step_trainer_trusted", STRICT, audited)


def test_machine_learning_curated_that_joins_across_subjects_is_blocked() -> None:
    step_rows, accel_rows = step_trusted(STRICT), accel_trusted(STRICT)

    def audited(broken: bool) -> pa.Table:
        # broken: the join forgets the subject and matches on time alone (the course's join)
        policy = UDACITY if broken else STRICT
        table = machine_learning_curated(step_rows, accel_rows, curated(STRICT), policy, SALT).table
        return audit_machine_learning_curated(table, facts(STRICT), step_rows, accel_rows)

    passes_unbroken_and_blocks_broken("machine_learning_curated", STRICT, audited)


@pytest.mark.parametrize("policy", [STRICT, UDACITY])
def test_machine_learning_curated_with_a_wrong_subject_id_is_blocked(policy: Policy) -> None:
    step_rows, accel_rows = step_trusted(policy), accel_trusted(policy)

    def audited(broken: bool) -> pa.Table:
        salt = b"another salt" if broken else SALT  # pseudonyms that are nobody's
        table = machine_learning_curated(step_rows, accel_rows, curated(policy), policy, salt).table
        assert table.num_rows and table.schema.equals(ML_SCHEMA)
        return audit_machine_learning_curated(table, facts(policy), step_rows, accel_rows)

    passes_unbroken_and_blocks_broken("machine_learning_curated", policy, audited)


def test_a_broken_helper_that_the_rule_shares_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The consent lookup of the accelerometer rule loses the consent time: no audit code uses it."""
    import stedi.rules.readings as rule_module

    lookup = rule_module.consent_lookup

    def at_the_epoch(*args: Any, **kwargs: Any) -> pa.ChunkedArray:
        found = lookup(*args, **kwargs)
        return pc.if_else(pc.is_valid(found), pa.scalar(0, pa.int64()), found)

    def audited(broken: bool) -> pa.Table:
        with monkeypatch.context() as patch:
            if broken:
                patch.setattr(rule_module, "consent_lookup", at_the_epoch)
            table = accelerometer_trusted(ACCEL, trusted(STRICT), STRICT).table
        return audit_accelerometer_trusted(table, facts(STRICT))

    passes_unbroken_and_blocks_broken("accelerometer_trusted", STRICT, audited)


@pytest.mark.slow
def test_a_broken_rule_in_the_flow_leaves_the_published_table_unchanged(
    tmp_path: Path, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.stedi_lakehouse import stedi_lakehouse
    from stedi.generate import GeneratorSpec, generate
    from stedi.storage import Lake

    landing, lakehouse = tmp_path / "landing", tmp_path / "lake"
    generate(landing, GeneratorSpec(customers=40, files=1, timestamps_per_customer=5))
    stedi_lakehouse(landing=str(landing), lakehouse=str(lakehouse), policy="strict")
    lake = Lake(str(lakehouse), {})
    before = {
        t: (lake.version(t), lake.count(t)) for t in ("accelerometer_trusted", "machine_learning_curated")
    }

    import tasks.days

    rule = tasks.days.accelerometer_trusted

    def without_consent_time(readings: pa.Table, owners: pa.Table, policy: Policy) -> Any:
        at_the_epoch = pa.array([0] * owners.num_rows, pa.int64())
        column = owners.schema.get_field_index("shareWithResearchAsOfDate")
        return rule(readings, owners.set_column(column, "shareWithResearchAsOfDate", at_the_epoch), policy)

    monkeypatch.setattr(tasks.days, "accelerometer_trusted", without_consent_time)
    monkeypatch.setattr("flows.stedi_lakehouse.WORKERS", 1)  # one unit, in this process: patched
    with pytest.raises(ValidationFailedError, match="accelerometer_trusted"):
        stedi_lakehouse(landing=str(landing), lakehouse=str(lakehouse), policy="strict", full_refresh=True)
    assert {t: (lake.version(t), lake.count(t)) for t in before} == before


# a named s1 until C+10, then s2; b named s9 until C+20, then s1. a does not consent, b does.
MOVED = customers(
    {"email": "a@x.t", "serialNumber": "s1", "lastUpdateDate": C, "shareWithResearchAsOfDate": None},
    {"email": "a@x.t", "serialNumber": "s2", "lastUpdateDate": C + 10, "shareWithResearchAsOfDate": None},
    {"email": "b@x.t", "serialNumber": "s9", "lastUpdateDate": C - 100, "shareWithResearchAsOfDate": C},
    {"email": "b@x.t", "serialNumber": "s1", "lastUpdateDate": C + 20, "shareWithResearchAsOfDate": C},
)


def latest_only(customers: pa.Table) -> pa.Table:
    """Each customer's newest record alone: ownership as if devices never changed hands."""
    from stedi.rules.customers import latest_customer_records

    return latest_customer_records(customers).select(CUSTOMER.schema.names)


def test_step_trainer_trusted_that_ignores_when_a_device_changed_hands_is_blocked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import stedi.rules.readings as rule_module

    owners = rule_module.device_owners
    moved_steps = steps(("s1", C + 5, 1), ("s1", C + 30, 2))  # a's reading, then b's
    kept = customer_trusted(MOVED, STRICT).table  # b, who also has trusted readings

    def audited(broken: bool) -> pa.Table:
        with monkeypatch.context() as patch:
            if broken:
                patch.setattr(rule_module, "device_owners", lambda c: owners(latest_only(c)))
            table = step_trainer_trusted(moved_steps, MOVED, kept, STRICT).table
        return audit_step_trainer_trusted(table, customer_facts(MOVED, None, STRICT), kept)

    passes_unbroken_and_blocks_broken("step_trainer_trusted", STRICT, audited)


def test_machine_learning_curated_that_ignores_when_a_device_changed_hands_is_blocked() -> None:
    from stedi.rules.ownership import device_owners

    landing = MOVED.set_column(  # both consent here, so both have trusted readings
        MOVED.schema.get_field_index("shareWithResearchAsOfDate"),
        "shareWithResearchAsOfDate",
        pa.array([C] * MOVED.num_rows, pa.int64()),
    )
    kept = customer_trusted(landing, STRICT).table
    step_rows = steps(("s1", C + 5, 1))  # a's device then
    accel_rows = readings(reading("a@x.t", C + 5, x=1.0), reading("b@x.t", C + 5, x=2.0))

    def audited(broken: bool) -> pa.Table:
        ownership = device_owners(latest_only(landing) if broken else landing)
        table = machine_learning_curated(step_rows, accel_rows, kept, STRICT, SALT, ownership).table
        assert table.num_rows == 1
        return audit_machine_learning_curated(
            table, customer_facts(landing, None, STRICT, SALT), step_rows, accel_rows
        )

    passes_unbroken_and_blocks_broken("machine_learning_curated", STRICT, audited)


@pytest.mark.parametrize(
    "records",
    [
        # a newer revocation without lastUpdateDate
        [{"email": "e@x.t", "lastUpdateDate": None, "shareWithResearchAsOfDate": None}],
        # two distinct records share the newest date
        [{"email": "E@x.t", "lastUpdateDate": C + 9, "shareWithResearchAsOfDate": C}],
    ],
    ids=["undated-revocation", "tied-newest"],
)
def test_customer_trusted_that_keeps_a_suspended_customer_is_blocked(
    records: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import stedi.rules.customers as rule_module
    from stedi.rules.suspension import Suspensions

    landing = customers(
        {"email": "a@x.t", "lastUpdateDate": C, "shareWithResearchAsOfDate": C},
        {"email": "e@x.t", "lastUpdateDate": C + 9, "shareWithResearchAsOfDate": C},
        *records,
    )

    def audited(broken: bool) -> pa.Table:
        with monkeypatch.context() as patch:
            if broken:  # nobody is ever suspended
                patch.setattr(
                    rule_module, "suspended_customers", lambda *a: Suspensions(pa.array([], pa.string()))
                )
            table = customer_trusted(landing, STRICT).table
        return audit_customer_trusted(table, customer_facts(landing, None, STRICT))

    passes_unbroken_and_blocks_broken("customer_trusted", STRICT, audited)


def test_customer_trusted_that_forgets_the_quarantine_is_blocked() -> None:
    from datetime import UTC, datetime

    from stedi.schemas import QUARANTINE_SCHEMA

    revocation = f'{{"email": "a@x.t", "lastUpdateDate": {C + 1}, "shareWithResearchAsOfDate": "null"}}'
    quarantine = pa.Table.from_pylist(
        [
            {
                "feed": "customer",
                "source_file": "customer/landing/c2.json",
                "line_number": 1,
                "reason_code": "wrong_type",
                "reason": 'shareWithResearchAsOfDate: expected int64, got str "null"',
                "raw_line": revocation,
                "_ingested_at": datetime(2026, 1, 2, tzinfo=UTC),
            }
        ],
        schema=QUARANTINE_SCHEMA,
    )
    landing = customers({"email": "a@x.t", "lastUpdateDate": C, "shareWithResearchAsOfDate": C})

    def audited(broken: bool) -> pa.Table:
        table = customer_trusted(landing, STRICT, None if broken else quarantine).table
        return audit_customer_trusted(table, customer_facts(landing, quarantine, STRICT))

    passes_unbroken_and_blocks_broken("customer_trusted", STRICT, audited)
