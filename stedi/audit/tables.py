"""Audit frames: a candidate table plus the columns its suite checks, computed by SQL from the inputs.

Each function takes the rows a rule produced (any chunk or partition of them) and the inputs the rule
had, and appends audit columns; the suite in `expectations/` then states the definition over them
(`_consent_at` not null, time at or after it, `_owners_at_time` exactly 1, subjects equal to
`subject_id`). The audit columns are validated, never published.
"""

from __future__ import annotations

import pyarrow as pa

from stedi.audit.engine import ROW, in_row_order, numbered, query
from stedi.audit.facts import CustomerFacts
from stedi.policy import Policy
from stedi.schemas import ML_COLUMNS

# Audit columns per table, in order, with their types.
AUDIT_COLUMNS: dict[str, tuple[pa.Field, ...]] = {
    "customer_trusted": (
        pa.field("_key", pa.string()),
        pa.field("_consent_at", pa.int64()),
        pa.field("_updated_at", pa.int64()),
    ),
    "customer_curated": (
        pa.field("_key", pa.string()),
        pa.field("_consent_at", pa.int64()),
        pa.field("_updated_at", pa.int64()),
        pa.field("_has_readings", pa.bool_()),
    ),
    "accelerometer_trusted": (pa.field("_consent_at", pa.int64()),),
    "step_trainer_trusted": (pa.field("_owners_at_time", pa.int64()), pa.field("_consent_at", pa.int64())),
    "machine_learning_curated": (
        pa.field("_step_subject", pa.string()),
        pa.field("_accel_subject", pa.string()),
        pa.field("_consent_at", pa.int64()),
    ),
}


def audit_schema(table: str, schema: pa.Schema) -> pa.Schema:
    """The schema of `table`'s audit frame: its own columns, then the audit columns."""
    return pa.schema([*schema, *AUDIT_COLUMNS[table]])


def _key(policy: Policy, column: str) -> str:
    """The SQL of a customer key: the normalised email (strict) or the email as written (udacity)."""
    return f"norm({column})" if policy is Policy.STRICT else column


def _append(table: str, candidate: pa.Table, sql: str, tables: dict[str, pa.Table]) -> pa.Table:
    columns = in_row_order(query(sql, tables), candidate.num_rows)
    out = candidate
    for field in AUDIT_COLUMNS[table]:
        out = out.append_column(field, columns[field.name].cast(field.type))
    return out


def _customers(table: str, candidate: pa.Table, facts: CustomerFacts, readings: pa.Table | None) -> pa.Table:
    key = _key(facts.policy, "t.email")
    users = "SELECT NULL::VARCHAR AS key WHERE false"
    tables = {"candidate": numbered(candidate, ["email"]), "consent": facts.consent}
    if readings is not None:
        users = f"SELECT DISTINCT {_key(facts.policy, 'r.user')} AS key FROM readings r"
        tables["readings"] = readings.select(["user"])
    sql = f"""
    WITH users AS ({users})
    SELECT t.{ROW}, {key} AS _key, c.consent_at AS _consent_at, c.updated_at AS _updated_at,
           u.key IS NOT NULL AS _has_readings
    FROM candidate t LEFT JOIN consent c ON c.key = {key} LEFT JOIN users u ON u.key = {key}
    """
    return _append(table, candidate, sql, tables)


def audit_customer_trusted(candidate: pa.Table, facts: CustomerFacts) -> pa.Table:
    """customer_trusted rows + `_key`, and the customer's `_consent_at` and `_updated_at` in force."""
    return _customers("customer_trusted", candidate, facts, None)


def audit_customer_curated(candidate: pa.Table, facts: CustomerFacts, readings: pa.Table) -> pa.Table:
    """customer_curated rows + the customer_trusted columns and `_has_readings`.

    `readings`: the `user` column of accelerometer_trusted (all of it, or its distinct values).
    """
    return _customers("customer_curated", candidate, facts, readings)


def audit_accelerometer_trusted(candidate: pa.Table, facts: CustomerFacts) -> pa.Table:
    """accelerometer_trusted rows + `_consent_at`, the consent in force of the reading's user."""
    sql = f"""
    WITH users AS (SELECT DISTINCT "user" FROM candidate),
    consent_of AS (
        SELECT u."user", c.consent_at FROM users u JOIN consent c ON c.key = {_key(facts.policy, 'u."user"')}
    )
    SELECT t.{ROW}, o.consent_at AS _consent_at FROM candidate t LEFT JOIN consent_of o ON o."user" = t."user"
    """
    tables = {"candidate": numbered(candidate, ["user"]), "consent": facts.consent}
    return _append("accelerometer_trusted", candidate, sql, tables)


# Per step reading (a `steps` row numbered `sid`) the customers whose record in force names its device.
_OWNERS = """
SELECT s.sid, any_value(s.sensorReadingTime) AS t, any_value(s.distanceFromObject) AS d,
       count(DISTINCT o.key) AS owners, min(o.key) AS owner
FROM (SELECT s.*, norm(s.serialNumber) AS serial FROM {steps} s) s
LEFT JOIN ownership o ON o.serial = s.serial
     AND (o.valid_from IS NULL OR s.sensorReadingTime >= o.valid_from)
     AND (o.valid_to IS NULL OR s.sensorReadingTime < o.valid_to)
GROUP BY s.sid
"""


def audit_step_trainer_trusted(candidate: pa.Table, facts: CustomerFacts, curated: pa.Table) -> pa.Table:
    """step_trainer_trusted rows + `_owners_at_time` and `_consent_at` of the device's curated owner.

    strict: `_owners_at_time` counts the customers whose record in force at the reading's time names
    its device; `_consent_at` is the consent of the only one, if it is in `curated` (customer_curated).
    udacity: `_consent_at` of a customer_curated record naming the device as written.
    """
    tables = {
        "candidate": numbered(candidate, ["sensorReadingTime", "serialNumber", "distanceFromObject"]),
        "consent": facts.consent,
        "ownership": facts.ownership,
        "curated": curated.select(["email", "serialNumber", "shareWithResearchAsOfDate"]),
    }
    if facts.policy is Policy.UDACITY:
        sql = f"""
        WITH devices AS (
            SELECT serialNumber, max(shareWithResearchAsOfDate) AS consent_at FROM curated
            WHERE serialNumber IS NOT NULL GROUP BY serialNumber
        )
        SELECT t.{ROW}, NULL::BIGINT AS _owners_at_time, d.consent_at AS _consent_at
        FROM candidate t LEFT JOIN devices d ON d.serialNumber = t.serialNumber
        """
    else:
        owners = _OWNERS.format(steps=f"(SELECT *, {ROW} AS sid FROM candidate)")
        sql = f"""
        WITH owners AS ({owners}),
        curated_keys AS (SELECT DISTINCT norm(email) AS key FROM curated)
        SELECT w.sid AS {ROW}, w.owners AS _owners_at_time,
               CASE WHEN w.owners = 1 AND k.key IS NOT NULL THEN c.consent_at END AS _consent_at
        FROM owners w LEFT JOIN curated_keys k ON k.key = w.owner LEFT JOIN consent c ON c.key = w.owner
        """
    return _append("step_trainer_trusted", candidate, sql, tables)


def audit_machine_learning_curated(
    candidate: pa.Table, facts: CustomerFacts, steps: pa.Table, readings: pa.Table
) -> pa.Table:
    """machine_learning_curated rows + the subjects of the readings each row can be built from.

    `_step_subject` (strict): `subject_id` when a `steps` reading (step_trainer_trusted) with the row's
    time and distance belongs at that time to that subject alone, else null. `_accel_subject`:
    `subject_id` when a `readings` reading (accelerometer_trusted) of that subject has the row's
    time and x, y, z, else null. `_consent_at`: the consent in force of the subject. `facts` must
    have been computed with the salt of `subject_id`.
    """
    strict = facts.policy is Policy.STRICT
    tables = {
        "candidate": numbered(candidate, ML_COLUMNS),
        "steps": steps.select(["sensorReadingTime", "serialNumber", "distanceFromObject"]),
        "readings": readings.select(["user", "timestamp", "x", "y", "z"]),
        "consent": facts.consent,
        "subjects": facts.subjects,
        "ownership": facts.ownership,
    }
    in_times = "IN (SELECT t FROM times)"
    owners = _OWNERS.format(
        steps=f"(SELECT *, row_number() OVER () AS sid FROM steps WHERE sensorReadingTime {in_times})"
    )
    step_subjects = (
        f"""
        SELECT DISTINCT w.t, w.d, c.subject
        FROM ({owners}) w JOIN consent c ON c.key = w.owner
        WHERE w.owners = 1
        """
        if strict
        else "SELECT NULL::BIGINT AS t, NULL::BIGINT AS d, NULL::VARCHAR AS subject WHERE false"
    )
    # strict: a subject id is one customer's (two keys with one id would be a normalisation defect)
    one_subject = "CASE WHEN count(DISTINCT key) = 1 THEN max(consent_at) END"
    one_subject = one_subject if strict else "max(consent_at)"
    sql = f"""
    WITH times AS (SELECT DISTINCT sensorReadingTime AS t FROM candidate),
    step_subjects AS ({step_subjects}),
    accel_subjects AS (
        SELECT DISTINCT r."timestamp" AS t, r.x, r.y, r.z, s.subject
        FROM readings r JOIN subjects s ON s.key = norm(r."user")
        WHERE r."timestamp" {in_times}
    ),
    consent_of AS (SELECT subject, {one_subject} AS consent_at FROM consent GROUP BY subject)
    SELECT m.{ROW}, ss.subject AS _step_subject, a.subject AS _accel_subject, c.consent_at AS _consent_at
    FROM candidate m
    LEFT JOIN step_subjects ss
           ON ss.t = m.sensorReadingTime AND ss.d IS NOT DISTINCT FROM m.distanceFromObject
          AND ss.subject = m.subject_id
    LEFT JOIN accel_subjects a
           ON a.t = m.sensorReadingTime AND a.subject = m.subject_id
          AND a.x IS NOT DISTINCT FROM m.x AND a.y IS NOT DISTINCT FROM m.y AND a.z IS NOT DISTINCT FROM m.z
    LEFT JOIN consent_of c ON c.subject = m.subject_id
    """
    return _append("machine_learning_curated", candidate, sql, tables)
