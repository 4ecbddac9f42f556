"""Reading what changed since the last complete build, from the Delta log, and deciding if appending is safe.

Landing tables only ever gain files when new landing files arrive (`overwrite` with a predicate on
files never seen before removes nothing), and the append path only appends to the derived tables. So
"the rows new since version v" are the rows of the data files added after v, and any removed file
(a changed landing file, an erasure, a compaction) means the append path does not apply.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from stedi.config import is_local
from stedi.customer_inputs import customer_quarantine, customer_records
from stedi.policy import Policy
from stedi.rules.customers import customer_trusted
from stedi.rules.increments import consent_change, customer_change, rows_of
from stedi.schemas import CUSTOMER
from stedi.state import BUILT_FROM, DERIVED_TABLES, SOURCE_TABLES, counts_from, parse_fingerprint
from stedi.storage import Lake


def base_commit(lake: Lake, table: str, base: str) -> dict[str, object] | None:
    """The newest commit of `table` that the build `base` wrote (None when there is none)."""
    return next((h for h in lake.history(table) if h.get(BUILT_FROM) == base), None)


def base_version(lake: Lake, table: str, base: str) -> int:
    commit = base_commit(lake, table, base)
    if commit is None:
        raise LookupError(f"{table} has no commit of the build it should extend")
    return int(str(commit["version"]))


def base_counts(lake: Lake, table: str, base: str) -> dict[str, int]:
    commit = base_commit(lake, table, base)
    return counts_from(commit) if commit else {}


def added_files(lake: Lake, table: str, version: int) -> set[str] | None:
    """Files added to `table` since `version`; None when any file of that version was removed."""
    before, now = lake.files(table, version), lake.files(table)
    return None if before - now else now - before


def new_rows(lake: Lake, table: str, version: int, columns: list[str] | None = None) -> pa.Table:
    """The rows `table` gained after `version` (it must only have gained files since)."""
    files = added_files(lake, table, version)
    if files is None:
        raise LookupError(f"{table} lost files since version {version}: it cannot be read as an append")
    if not files:
        return lake.scan(table, columns, filter=pc.scalar(False))
    return lake.scan(table, columns, files=files)


def old_rows_of(
    lake: Lake,
    table: str,
    version: int,
    column: str,
    keys: pa.Array,
    normalise: bool,
    columns: list[str],
) -> pa.Table:
    """Rows of `table` at `version` whose `column` (a user or a serial) is one of `keys`.

    Reads that one column file by file and the other columns only of files that hold a match,
    so looking for the old readings of a few new customers costs one column of the table.
    """
    data = lake.dataset(table, version)
    parts = [data.schema.empty_table().select(columns)]
    if len(keys):
        threads = is_local(lake.root)
        for fragment in data.get_fragments():
            mask = rows_of(fragment.to_table(columns=[column], use_threads=threads)[column], keys, normalise)
            if pc.any(mask).as_py():
                rows = fragment.to_table(schema=data.schema, columns=columns, use_threads=threads)
                parts.append(rows.filter(mask))
    return pa.concat_tables(parts)


def append_blocker(lake: Lake, policy: Policy, target: str) -> tuple[str | None, str]:
    """The build to extend (or None) and, when there is none, why the tables must be rebuilt."""
    base = lake.commit_info(DERIVED_TABLES[-1]).get(BUILT_FROM)
    old, new = parse_fingerprint(base), parse_fingerprint(target)
    if old is None or new is None or not isinstance(base, str):
        return None, "no complete earlier build"
    if (old.policy, old.salt_check) != (new.policy, new.salt_check):
        return None, "the policy or the subject salt changed"
    for table in DERIVED_TABLES:
        latest = lake.commit_info(table).get(BUILT_FROM)
        if latest not in (base, target) or base_commit(lake, table, base) is None:
            return None, f"{table} changed outside the pipeline's builds"
    for table in SOURCE_TABLES:
        version = old.versions[table]
        if version is None or added_files(lake, table, version) is None:
            return None, f"{table} had rows replaced or removed"
    version = old.versions["customer_landing"]
    if version is not None and version != new.versions["customer_landing"]:
        names = CUSTOMER.schema.names
        before = lake.read("customer_landing", names, version=version)
        reason = customer_change(before, lake.read("customer_landing", names), policy)
        if reason:
            return None, reason
    # A new quarantined customer line can suspend a consenting customer without any new record.
    recomputed = customer_trusted(customer_records(lake), policy, customer_quarantine(lake)).table
    reason = consent_change(lake.read("customer_trusted"), recomputed, policy)
    if reason:
        return None, reason
    return base, ""
