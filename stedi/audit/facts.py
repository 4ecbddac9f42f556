"""What the customer records decide, written as SQL: consent in force and device ownership in time.

An independent formulation of the definitions the rules implement (it imports nothing from
`stedi.rules`): the audits compare every derived row against these facts. They are computed once per
run from the small customer inputs and are plain Arrow tables, so they travel to any worker.

strict
- A customer is a normalised email (trimmed, lower-cased). Its consent in force is the newest
  record's `shareWithResearchAsOfDate`. The customer is suspended (not consenting) while its largest
  `lastUpdateDate` is shared by two or more distinct records, and after an event that may hide its
  newest record until a valid record with a strictly greater `lastUpdateDate` is ingested after the
  event (a later `_ingested_at`, or a later file of the same ingest). The events: a record without
  `lastUpdateDate`, and a record quarantined for a consent or time field (a value that is neither
  null nor an epoch-millisecond time in 2000..2099) or for duplicate keys. "Greater" than the
  quarantined record's own `lastUpdateDate`; when it has none that can be read, than every
  `lastUpdateDate` of the customer known by then.
- Each record is in force from its `lastUpdateDate` to the customer's next record (the first one
  from the beginning of time; an undated record at all times). A step reading (t, serial) belongs
  to customer k iff k's record in force at t names the serial and no other customer's does.

udacity (the course's definitions): a customer is an email as written; every record with a
consent date counts, and devices are matched to curated records by serial as written.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from stedi.audit.engine import Database, queries
from stedi.policy import Policy
from stedi.schemas import CUSTOMER, MAX_PLAUSIBLE_MS, MIN_PLAUSIBLE_MS, QUARANTINE_SCHEMA
from stedi.subject import subject_ids

SOURCE = CUSTOMER.schema.names
TIMES = ", ".join(f"'{name.lower()}'" for name in CUSTOMER.times)
# Every value of a key spelled `email` in any case, also when the key appears twice.
EMAIL_VALUES = r'"\s*(?i:email)\s*"\s*:\s*"((?:[^"\\]|\\.)*)"'

# Every customer record with its key and normalised device, once per connection.
RECORDS = """
CREATE TEMP TABLE rec AS
SELECT k.key, norm(c.serialNumber) AS serial, c.*
FROM customers c JOIN (SELECT DISTINCT email, norm(email) AS key FROM customers) k ON k.email = c.email
"""

# Record {a} was ingested after event {b}: a later ingest, or a later file of the same ingest (files are
# ingested in name order). Unknown (null) positions are never later.
LATER = (
    "({a}._ingested_at > {b}.ingested_at"
    " OR ({a}._ingested_at = {b}.ingested_at AND {a}._source_file > {b}.source_file))"
)

CONSENT_STRICT = f"""
WITH per_key AS (
    SELECT key, max(lastUpdateDate) AS updated_at FROM rec GROUP BY key
),
newest AS (
    SELECT r.key,
           count(DISTINCT ({", ".join(f"r.{c}" for c in SOURCE)})) AS records,
           max(r.shareWithResearchAsOfDate) AS consent_at
    FROM rec r JOIN per_key p ON r.key = p.key AND r.lastUpdateDate = p.updated_at
    GROUP BY r.key
),
objects AS (
    SELECT qid, ingested_at, source_file, body, body::JSON AS j
    FROM (
        SELECT row_number() OVER () AS qid, _ingested_at AS ingested_at, source_file,
               regexp_replace(raw_line, '^\\s+|[\\s,]+$', '', 'g') AS body
        FROM quarantine WHERE feed = 'customer'
    )
    WHERE json_valid(body) AND json_type(body::JSON) = 'OBJECT'
),
fields AS (
    SELECT qid, lower(trim(k)) AS name, json_extract(j, '$."' || k || '"') AS v
    FROM objects, unnest(json_keys(j)) AS t(k)
),
typed AS (
    SELECT qid, name, json_type(v) = 'NULL' AS is_null,
           json_type(v) IN ('BIGINT', 'UBIGINT', 'DOUBLE')
             AND TRY_CAST(v AS DOUBLE) = floor(TRY_CAST(v AS DOUBLE))
             AND TRY_CAST(v AS DOUBLE) >= {MIN_PLAUSIBLE_MS}
             AND TRY_CAST(v AS DOUBLE) < {MAX_PLAUSIBLE_MS} AS is_time,
           TRY_CAST(v AS DOUBLE) AS number
    FROM fields
),
flagged AS (  -- quarantined for a consent or time field, or for duplicate keys
    SELECT qid, max(CASE WHEN name = 'lastupdatedate' AND is_time THEN number END)::BIGINT AS own_date
    FROM typed GROUP BY qid
    HAVING count(*) > count(DISTINCT name) OR bool_or(name IN ({TIMES}) AND NOT (is_null OR is_time))
),
events AS (  -- what hides the newest record: an undated record, or a quarantined line of the customer
    SELECT key, _ingested_at AS ingested_at, _source_file AS source_file, NULL::BIGINT AS own_date
    FROM rec WHERE lastUpdateDate IS NULL
    UNION ALL
    SELECT norm(json_extract_string(TRY_CAST('"' || m || '"' AS JSON), '$')), o.ingested_at, o.source_file,
           f.own_date
    FROM flagged f JOIN objects o USING (qid), unnest(regexp_extract_all(o.body, '{EMAIL_VALUES}', 1)) AS t(m)
),
thresholds AS (  -- newer than the event; when it has no readable date, than all known when it came
    SELECT e.key, e.ingested_at, e.source_file,
           coalesce(e.own_date, (
               SELECT max(r.lastUpdateDate) FROM rec r
               WHERE r.key = e.key AND NOT coalesce({LATER.format(a="r", b="e")}, false)
           )) AS after
    FROM events e WHERE e.key IS NOT NULL
),
uncleared AS (
    SELECT DISTINCT t.key FROM thresholds t
    WHERE NOT EXISTS (
        SELECT 1 FROM rec r
        WHERE r.key = t.key AND {LATER.format(a="r", b="t")}
          AND r.lastUpdateDate > coalesce(t.after, -9223372036854775808)
    )
)
SELECT p.key, p.key AS person, p.updated_at,
       coalesce(n.records, 0) <> 1 OR u.key IS NOT NULL AS suspended,
       CASE WHEN coalesce(n.records, 0) = 1 AND u.key IS NULL THEN n.consent_at END AS consent_at
FROM per_key p LEFT JOIN newest n USING (key) LEFT JOIN uncleared u USING (key)
"""

CONSENT_UDACITY = """
SELECT email AS key, any_value(key) AS person, max(lastUpdateDate) AS updated_at, false AS suspended,
       max(shareWithResearchAsOfDate) AS consent_at
FROM rec WHERE shareWithResearchAsOfDate IS NOT NULL
GROUP BY email
"""

OWNERSHIP = """
WITH dates AS (SELECT DISTINCT key, lastUpdateDate AS t FROM rec WHERE lastUpdateDate IS NOT NULL),
spans AS (
    SELECT key, t,
           CASE WHEN row_number() OVER w > 1 THEN t END AS valid_from,
           lead(t) OVER w AS valid_to
    FROM dates WINDOW w AS (PARTITION BY key ORDER BY t)
)
SELECT DISTINCT r.serial, r.key, s.valid_from, s.valid_to  -- NULL: the beginning of time, or no end
FROM rec r LEFT JOIN spans s ON r.key = s.key AND r.lastUpdateDate = s.t
WHERE r.serial IS NOT NULL AND r.serial <> ''
"""

SUBJECT_KEYS = "SELECT DISTINCT key FROM rec"


@dataclass(frozen=True)
class CustomerFacts:
    """Per customer key its consent in force, per device its owners in time, per key its subject id.

    `consent`: key, person (the normalised email), updated_at, suspended, consent_at (null: not
    consenting), subject (with a salt).
    `ownership` (strict): serial, key, valid_from, valid_to (null: unbounded).
    `subjects`: normalised email -> subject id (with a salt).
    `database`: where the audits keep what they prepare from these facts (made on first use, kept
    as long as the facts, never pickled), so a worker that keeps the facts prepares them once; the
    facts `with_salt` share it with those they come from.
    """

    policy: Policy
    consent: pa.Table
    ownership: pa.Table
    subjects: pa.Table
    _database: list[Database] = field(default_factory=list, init=False, repr=False, compare=False)

    @property
    def database(self) -> Database:
        with _LOCK:
            if not self._database or not self._database[0].usable:
                self._database[:] = [Database()]
            return self._database[0]

    def with_salt(self, salt: bytes) -> CustomerFacts:
        """These facts with the subject ids under `salt` (hashing each customer once, no query again)."""
        keys = self.subjects["key"].combine_chunks()
        ids = subject_ids(keys, salt)
        persons = pc.index_in(self.consent["person"], value_set=keys)
        consent = self.consent.set_column(
            self.consent.schema.get_field_index("subject"), "subject", ids.take(persons)
        )
        subjects = self.subjects.set_column(self.subjects.schema.get_field_index("subject"), "subject", ids)
        salted = CustomerFacts(self.policy, consent, self.ownership, subjects)
        object.__setattr__(salted, "_database", self._database)  # what does not depend on the salt
        return salted

    def __getstate__(self) -> dict[str, object]:
        return {**self.__dict__, "_database": []}


_LOCK = threading.Lock()


def _with_lineage(customers: pa.Table) -> pa.Table:
    table = customers.select(SOURCE).cast(CUSTOMER.schema)
    for name, kind in (
        ("_ingested_at", QUARANTINE_SCHEMA.field("_ingested_at").type),
        ("_source_file", pa.string()),
    ):
        column = (
            customers[name].cast(kind)
            if name in customers.column_names
            else pa.nulls(customers.num_rows, kind)
        )
        table = table.append_column(name, column)
    return table


def customer_facts(
    customers: pa.Table, quarantine: pa.Table | None, policy: Policy, salt: bytes | None = None
) -> CustomerFacts:
    """The facts of `customers` (customer_landing rows) and the customer rows of `quarantine`.

    `salt` is needed only to audit machine_learning_curated (subject ids).
    """
    tables = {
        "customers": _with_lineage(customers),
        "quarantine": (quarantine if quarantine is not None else QUARANTINE_SCHEMA.empty_table()).select(
            ["feed", "source_file", "raw_line", "_ingested_at"]
        ),
    }
    consent_sql = CONSENT_STRICT if policy is Policy.STRICT else CONSENT_UDACITY
    consent, keys, ownership = queries([consent_sql, SUBJECT_KEYS, OWNERSHIP], tables, [RECORDS])
    subjects = keys.append_column("subject", pa.nulls(keys.num_rows, pa.string()))
    consent = consent.append_column("subject", pa.nulls(consent.num_rows, pa.string()))
    facts = CustomerFacts(policy, consent, ownership, subjects)
    return facts if salt is None else facts.with_salt(salt)
