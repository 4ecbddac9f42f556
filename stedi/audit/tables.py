"""Audit frames: a candidate table plus the columns its suite checks, computed by SQL from the inputs.

Each function takes the rows a rule produced (any chunk or partition of them) and the inputs the rule
had, and appends audit columns; the suite in `expectations/` then states the definition over them
(`_consent_at` not null, time at or after it, `_owners_at_time` exactly 1, subjects equal to
`subject_id`). The audit columns are validated, never published.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from stedi.audit.engine import ROW, Database, at_rows, distinct, in_row_order, lookup, numbered, query
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


# The salt-free facts as the reading audits use them, prepared once per facts (see
# CustomerFacts.database) and group, as an audit first needs them: customers numbered (`kid`), so the
# joins over readings compare integers, not strings; device ownership by number, as segments of each
# device's time line.
_PREPARE: dict[str, tuple[str, ...]] = {
    "consent": ("CREATE TABLE consent AS SELECT key, consent_at FROM f_consent",),
    "ids": (
        """CREATE TABLE ids AS
        SELECT key, row_number() OVER (ORDER BY key)::INTEGER AS kid FROM f_subjects WHERE key IS NOT NULL""",
    ),
    "owners": (
        """CREATE TABLE owned AS  -- valid_from / valid_to NULL: the beginning of time, or no end
        SELECT o.serial, i.kid, o.valid_from, o.valid_to FROM f_ownership o JOIN ids i ON i.key = o.key""",
        """CREATE TABLE segments AS  -- each device's time line cut at every bound of its ownership spans
        WITH bounds AS (
            SELECT serial, valid_from AS b FROM owned WHERE valid_from IS NOT NULL
            UNION SELECT serial, valid_to FROM owned WHERE valid_to IS NOT NULL
        ),
        cuts AS (  -- [seg_from, seg_to), NULL: the beginning of time, or no end
            SELECT serial, b AS seg_from, lead(b) OVER (PARTITION BY serial ORDER BY b) AS seg_to FROM bounds
            UNION ALL SELECT serial, NULL, min(b) FROM bounds GROUP BY serial
            UNION ALL
            SELECT DISTINCT serial, NULL, NULL FROM owned WHERE serial NOT IN (SELECT serial FROM bounds)
        )
        -- no bound falls inside a segment, so a span covers all of it or none of it
        SELECT c.serial, c.seg_from, c.seg_to, count(DISTINCT o.kid) AS owners, min(o.kid) AS owner
        FROM cuts c JOIN owned o ON o.serial = c.serial
             AND (o.valid_from IS NULL OR o.valid_from <= c.seg_from)
             AND (o.valid_to IS NULL OR o.valid_to >= c.seg_to)
        GROUP BY c.serial, c.seg_from, c.seg_to""",
    ),
}


def _database(facts: CustomerFacts, *groups: str) -> Database:
    """The facts' database with `groups` of `_PREPARE` made (in order: a group reads the ones before)."""
    database = facts.database
    inputs = {"f_consent": facts.consent, "f_ownership": facts.ownership, "f_subjects": facts.subjects}
    for group in groups:
        database.prepare(group, inputs, _PREPARE[group])
    return database


def _subjects(facts: CustomerFacts, database: Database) -> str:
    """A table of each subject id's customer (null when two share it) and consent in force, per salt."""
    # strict: a subject id is one customer's (two keys with one id would be a normalisation defect)
    strict = facts.policy is Policy.STRICT
    one = "CASE WHEN count(DISTINCT c.key) = 1 THEN max(c.consent_at) END" if strict else "max(c.consent_at)"
    sources = {"f_subjects": facts.subjects, "f_consent": facts.consent}
    return database.derived("subjects", sources, lambda name: [
        f"""CREATE TABLE {name} AS
        WITH customers AS (
            SELECT s.subject, CASE WHEN count(*) = 1 THEN min(i.kid) END AS kid
            FROM f_subjects s JOIN ids i ON i.key = s.key WHERE s.subject IS NOT NULL GROUP BY s.subject
        )
        SELECT k.subject, k.kid, c.consent_at FROM customers k
        LEFT JOIN (SELECT subject, {one} AS consent_at FROM f_consent c GROUP BY subject) c USING (subject)"""
    ])  # fmt: skip


def _with(table: str, candidate: pa.Table, columns: dict[str, pa.Array]) -> pa.Table:
    out = candidate
    for field in AUDIT_COLUMNS[table]:
        out = out.append_column(field, columns[field.name].cast(field.type))
    return out


def audit_accelerometer_trusted(candidate: pa.Table, facts: CustomerFacts) -> pa.Table:
    """accelerometer_trusted rows + `_consent_at`, the consent in force of the reading's user."""
    key = _key(facts.policy, '"user"')
    sql = f"""
    SELECT u."user", c.consent_at
    FROM (SELECT "user", {key} AS key FROM users) u JOIN consent c ON c.key = u.key
    """
    (consent,) = _database(facts, "consent").queries([sql], {"users": distinct(candidate["user"], "user")})
    return _with(
        "accelerometer_trusted",
        candidate,
        {"_consent_at": lookup(candidate["user"], consent, "user")["consent_at"]},
    )


# Per step reading (rows of `steps` numbered `_row`) how many customers' records in force at its time
# name its device, and the first of them; readings of a device nobody owns then are left out (0 owners).
# Serials are normalised once per distinct value.
_OWNERS = """
SELECT {columns}
FROM steps r
JOIN (SELECT serialNumber, norm(serialNumber) AS serial FROM (SELECT DISTINCT serialNumber FROM steps)) n
  ON n.serialNumber = r.serialNumber
JOIN segments g ON g.serial = n.serial
     AND (g.seg_from IS NULL OR r.sensorReadingTime >= g.seg_from)
     AND (g.seg_to IS NULL OR r.sensorReadingTime < g.seg_to)
"""
_STEPS = ["sensorReadingTime", "serialNumber", "distanceFromObject"]


def audit_step_trainer_trusted(candidate: pa.Table, facts: CustomerFacts, curated: pa.Table) -> pa.Table:
    """step_trainer_trusted rows + `_owners_at_time` and `_consent_at` of the device's curated owner.

    strict: `_owners_at_time` counts the customers whose record in force at the reading's time names
    its device; `_consent_at` is the consent of the only one, if it is in `curated` (customer_curated).
    udacity: `_consent_at` of a customer_curated record naming the device as written.
    """
    rows = candidate.num_rows
    if facts.policy is Policy.UDACITY:
        database = _database(facts)
        devices = database.derived("devices", {"source": curated}, lambda name: [f"""
            CREATE TABLE {name} AS SELECT serialNumber, max(shareWithResearchAsOfDate) AS consent_at
            FROM source WHERE serialNumber IS NOT NULL GROUP BY serialNumber"""])  # fmt: skip
        sql = f"SELECT d.serialNumber, d.consent_at FROM serials s JOIN {devices} d USING (serialNumber)"
        (found,) = database.queries([sql], {"serials": distinct(candidate["serialNumber"], "serialNumber")})
        return _with("step_trainer_trusted", candidate, {
            "_owners_at_time": pa.nulls(rows, pa.int64()),
            "_consent_at": lookup(candidate["serialNumber"], found, "serialNumber")["consent_at"],
        })  # fmt: skip
    database = _database(facts, "consent", "ids", "owners")
    # the consent in force of each customer of `curated` (customer_curated), by number
    curated_consent = database.derived("curated_consent", {"source": curated}, lambda name: [f"""
        CREATE TABLE {name} AS SELECT i.kid, c.consent_at
        FROM ids i JOIN (SELECT DISTINCT norm(email) AS key FROM source) k ON k.key = i.key
        LEFT JOIN consent c ON c.key = i.key"""])  # fmt: skip
    sql = f"""
    SELECT w.{ROW}, w.owners, c.consent_at
    FROM ({_OWNERS.format(columns=f"r.{ROW}, g.owners, g.owner")}) w
    LEFT JOIN {curated_consent} c ON c.kid = w.owner AND w.owners = 1
    """
    (found,) = database.queries([sql], {"steps": numbered(candidate, _STEPS)})
    return _with("step_trainer_trusted", candidate, {
        "_owners_at_time": at_rows(rows, found, "owners", default=0),
        "_consent_at": at_rows(rows, found, "consent_at"),
    })  # fmt: skip


# The customer (`kid`) of each subject id of the candidate rows and its consent in force.
_ROW_SUBJECTS = """
SELECT s.subject_id, k.kid, k.consent_at FROM row_subjects s JOIN {subjects} k ON k.subject = s.subject_id
WHERE k.kid IS NOT NULL
"""
# Rows whose time and distance are a step reading's that belongs at that time to the row's customer alone.
_STEP_ROWS = f"""
SELECT m.{ROW} FROM candidate m
JOIN ({_OWNERS.format(columns="r.sensorReadingTime AS t, r.distanceFromObject AS d, g.owner AS kid")}
      WHERE g.owners = 1) w
  ON w.t = m.sensorReadingTime AND w.kid = m.kid AND w.d IS NOT DISTINCT FROM m.distanceFromObject
"""
# Rows whose time and x, y, z are an accelerometer reading's of the row's customer.
_ACCEL_ROWS = f"""
WITH user_kid AS (
    SELECT u."user", i.kid FROM (SELECT "user", norm("user") AS key FROM users) u JOIN ids i ON i.key = u.key
),
owned_readings AS (
    SELECT r."timestamp" AS t, r.x, r.y, r.z, u.kid FROM readings r JOIN user_kid u USING ("user")
)
SELECT m.{ROW} FROM candidate m JOIN owned_readings a ON a.t = m.sensorReadingTime AND a.kid = m.kid
WHERE a.x IS NOT DISTINCT FROM m.x AND a.y IS NOT DISTINCT FROM m.y AND a.z IS NOT DISTINCT FROM m.z
"""


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
    database = _database(facts, "ids", "owners") if strict else _database(facts, "ids")
    subject, known = candidate["subject_id"], _ROW_SUBJECTS.format(subjects=_subjects(facts, database))
    (subjects,) = database.queries([known], {"row_subjects": distinct(subject, "subject_id")})
    of_rows = lookup(subject, subjects, "subject_id")  # kid, consent_at
    # each row with its subject's customer number: the joins over readings compare integers
    rows = numbered(candidate, ML_COLUMNS).append_column("kid", of_rows["kid"])
    tables = {
        "candidate": rows,
        "steps": numbered(steps, _STEPS),
        "readings": readings.select(["user", "timestamp", "x", "y", "z"]),
        "users": distinct(readings["user"], "user"),
    }
    accel_rows, *step_rows = database.queries([_ACCEL_ROWS, *([_STEP_ROWS] if strict else [])], tables)
    n = candidate.num_rows
    step = pc.if_else(at_rows(n, step_rows[0]), subject, None) if strict else pa.nulls(n, pa.string())
    return _with("machine_learning_curated", candidate, {
        "_step_subject": step,
        "_accel_subject": pc.if_else(at_rows(n, accel_rows), subject, None),
        "_consent_at": of_rows["consent_at"],
    })  # fmt: skip
