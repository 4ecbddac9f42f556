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
    key = _key(facts.policy, "email")
    users = "SELECT NULL::VARCHAR AS key WHERE false"
    tables = {"candidate": numbered(candidate, ["email"]), "consent": facts.consent}
    if readings is not None:
        user = _key(facts.policy, '"user"')
        users = f'SELECT DISTINCT {user} AS key FROM (SELECT DISTINCT "user" FROM readings)'
        tables["readings"] = readings.select(["user"])
    # Keys are computed in a projection and joined as columns: DuckDB joins on an expression like
    # norm() by comparing every pair of rows.
    sql = f"""
    WITH users AS ({users})
    SELECT t.{ROW}, t.key AS _key, c.consent_at AS _consent_at, c.updated_at AS _updated_at,
           u.key IS NOT NULL AS _has_readings
    FROM (SELECT *, {key} AS key FROM candidate) t
    LEFT JOIN consent c ON c.key = t.key LEFT JOIN users u ON u.key = t.key
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
    key = _key(facts.policy, '"user"')
    sql = f"""
    WITH users AS (SELECT "user", {key} AS key FROM (SELECT DISTINCT "user" FROM candidate)),
    consent_of AS (SELECT u."user", c.consent_at FROM users u JOIN consent c ON c.key = u.key)
    SELECT t.{ROW}, o.consent_at AS _consent_at FROM candidate t LEFT JOIN consent_of o ON o."user" = t."user"
    """
    tables = {"candidate": numbered(candidate, ["user"]), "consent": facts.consent}
    return _append("accelerometer_trusted", candidate, sql, tables)


# Per step reading (rows of `steps` numbered `sid`) how many customers' records in force at its time
# name its device, and the first of them. Serials are normalised once per distinct value (`serials`).
_OWNERS = """
SELECT s.sid, any_value(s.sensorReadingTime) AS t, any_value(s.distanceFromObject) AS d,
       count(DISTINCT o.key) AS owners, min(o.key) AS owner
FROM {steps} s
LEFT JOIN (SELECT DISTINCT serialNumber, norm(serialNumber) AS serial FROM {serials}) n
       ON n.serialNumber = s.serialNumber
LEFT JOIN ownership o ON o.serial = n.serial
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
        owners = _OWNERS.format(steps=f"(SELECT *, {ROW} AS sid FROM candidate)", serials="candidate")
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
        steps=f"(SELECT *, row_number() OVER () AS sid FROM steps WHERE sensorReadingTime {in_times})",
        serials="steps",
    )
    step_owned = (
        f"SELECT w.t, w.d, i.kid FROM ({owners}) w JOIN ids i ON i.key = w.owner WHERE w.owners = 1"
        if strict
        else "SELECT NULL::BIGINT AS t, NULL::BIGINT AS d, NULL::BIGINT AS kid WHERE false"
    )
    # strict: a subject id is one customer's (two keys with one id would be a normalisation defect)
    one = "CASE WHEN count(DISTINCT c.key) = 1 THEN max(c.consent_at) END" if strict else "max(c.consent_at)"
    same = "IS NOT DISTINCT FROM"
    # Customers are numbered (`kid`), so the joins over readings compare integers, not 64-hex strings.
    sql = f"""
    WITH times AS (SELECT DISTINCT sensorReadingTime AS t FROM candidate),
    ids AS (SELECT key, subject, row_number() OVER (ORDER BY key) AS kid FROM subjects),
    row_ids AS (
        SELECT s.subject_id, CASE WHEN count(*) = 1 THEN min(i.kid) END AS kid
        FROM (SELECT DISTINCT subject_id FROM candidate) s JOIN ids i ON i.subject = s.subject_id
        GROUP BY s.subject_id
    ),
    step_owned AS ({step_owned}),
    accel_owned AS (
        SELECT r."timestamp" AS t, r.x, r.y, r.z, u.kid
        FROM readings r
        JOIN (SELECT v."user", i.kid
              FROM (SELECT "user", norm("user") AS key FROM (SELECT DISTINCT "user" FROM readings)) v
              JOIN ids i ON i.key = v.key) u ON u."user" = r."user"
        WHERE r."timestamp" {in_times}
    ),
    consent_of AS (
        SELECT i.kid, {one} AS consent_at FROM consent c JOIN ids i ON i.subject = c.subject GROUP BY i.kid
    ),
    numbered AS (SELECT m.*, r.kid FROM candidate m LEFT JOIN row_ids r ON r.subject_id = m.subject_id)
    SELECT m.{ROW},
        CASE WHEN EXISTS (
            SELECT 1 FROM step_owned w
            WHERE w.t = m.sensorReadingTime AND w.kid = m.kid AND w.d {same} m.distanceFromObject
        ) THEN m.subject_id END AS _step_subject,
        CASE WHEN EXISTS (
            SELECT 1 FROM accel_owned a
            WHERE a.t = m.sensorReadingTime AND a.kid = m.kid
              AND a.x {same} m.x AND a.y {same} m.y AND a.z {same} m.z
        ) THEN m.subject_id END AS _accel_subject,
        c.consent_at AS _consent_at
    FROM numbered m LEFT JOIN consent_of c ON c.kid = m.kid
    """
    return _append("machine_learning_curated", candidate, sql, tables)
