"""Right to erasure: a subject leaves every zone, down to the bytes on disk, and stays gone."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pydantic import SecretStr

from stedi.config import subject_salt
from stedi.generate import GeneratorSpec, generate
from stedi.privacy.keys import keyed_hash
from stedi.storage import Lake
from tests.privacy_helpers import BASE, Subject, add_subject, files_containing

pytestmark = pytest.mark.slow

SUBJECT = Subject()
OTHER = Subject(name="Other Person", email="zz@other.test", phone="8015551111", serial="other-device")
TIMES = [BASE + 3_600_000 + 1_000 * i for i in range(8)]


def subject_rows(lake: Lake, subject_id: str) -> dict[str, int]:
    """Rows of the subject in each table that can hold them."""
    email = SUBJECT.email.lower()
    checks = {
        "customer_landing": ("email", email),
        "accelerometer_landing": ("user", email),
        "step_trainer_landing": ("serialNumber", SUBJECT.serial),
        "customer_trusted": ("email", email),
        "accelerometer_trusted": ("user", email),
        "step_trainer_trusted": ("serialNumber", SUBJECT.serial),
        "customer_curated": ("email", email),
        "machine_learning_curated": ("subject_id", subject_id),
    }
    out = {}
    for table, (column, value) in checks.items():
        values = pc.utf8_lower(pc.utf8_trim_whitespace(lake.read(table, [column])[column]))
        out[table] = int(pc.sum(pc.equal(values, value)).as_py() or 0)
    raw = lake.read("quarantine", ["raw_line"])["raw_line"]
    out["quarantine"] = int(pc.sum(pc.match_substring(pc.utf8_lower(raw), email)).as_py() or 0)
    return out


def test_erased_subject_leaves_no_byte_on_disk_and_stays_gone(tmp_path: Path, prefect_harness: None) -> None:
    from flows.erase_subjects import erase_subjects
    from flows.stedi_lakehouse import stedi_lakehouse

    landing, root = tmp_path / "landing", tmp_path / "lake"
    generate(landing, GeneratorSpec(customers=40, seed=5, files=2))
    add_subject(landing, SUBJECT, TIMES)
    stedi_lakehouse(landing=str(landing), lakehouse=str(root))
    lake = Lake(str(root), {})
    subject_id = keyed_hash(SUBJECT.email, subject_salt(str(root)).value)
    before = subject_rows(lake, subject_id)
    assert all(n > 0 for n in before.values()), before
    found = files_containing(root, SUBJECT.needles())
    assert set(found) == {n.lower() for n in SUBJECT.needles()}  # the scan sees the data files
    # Personal columns get no statistics, so the Delta logs never held the subject in the first place.
    assert not [f for files in found.values() for f in files if "_delta_log" in f]

    summary = erase_subjects(lakehouse=str(root), emails=[SecretStr("  ZEB.quixotic@erase-me.TEST ")])
    assert summary.subjects_matched == 1
    assert {t.table: t.rows_removed for t in summary.tables} == before
    assert all(n == 0 for n in subject_rows(lake, subject_id).values())
    assert files_containing(root, SUBJECT.needles()) == {}
    assert lake.count("customer_landing") > 0  # everyone else is still there

    log = lake.read("erasure_log").to_pylist()
    assert [r["subject"] for r in log] == [subject_id]
    assert log[0]["rows_removed_total"] == sum(before.values())
    assert log[0]["files_vacuumed"] > 0

    # The same landing files again (re-delivered): tombstones keep the subject out.
    stedi_lakehouse(landing=str(landing), lakehouse=str(root))
    assert all(n == 0 for n in subject_rows(lake, subject_id).values())
    assert files_containing(root, SUBJECT.needles()) == {}

    # A sweep (no new request) applies every tombstone again and finds nothing left.
    again = erase_subjects(lakehouse=str(root), sweep=True)
    assert [t.rows_removed for t in again.tables] == [0] * 9
    assert files_containing(root, SUBJECT.needles()) == {}

    # Optionally the raw landing files lose the subject's records too.
    raw = erase_subjects(lakehouse=str(root), include_raw=True, landing=str(landing))
    assert raw.raw_lines_removed == 1 + len(TIMES) + 1 + len(TIMES)
    assert files_containing(landing, SUBJECT.needles()) == {}


def test_a_table_created_with_statistics_on_personal_columns_is_cleaned_too(
    tmp_path: Path, prefect_harness: None
) -> None:
    """Tables from before TABLE_PROPERTIES kept emails in their log's statistics; erasure removes them."""
    from deltalake import write_deltalake

    from stedi.config import RunConfig
    from stedi.privacy.subjects import erasure_keys
    from stedi.privacy.tombstones import Tombstones
    from stedi.schemas import CUSTOMER
    from tasks.erasure import erase_from_table
    from tests.privacy_helpers import customer_record

    config = RunConfig.build(str(tmp_path), str(tmp_path / "lake"))
    lake = Lake.of(config)
    records = [
        customer_record(SUBJECT, BASE, BASE),
        customer_record(OTHER, BASE, BASE),
    ]
    rows = pa.Table.from_pylist(records, schema=CUSTOMER.schema)
    rows = rows.append_column("_source_file", pa.array(["a.json", "b.json"]))
    table = lake.uri("customer_landing")
    write_deltalake(table, rows)  # no table properties: min/max of every column in the log
    write_deltalake(table, rows, mode="overwrite")
    found = files_containing(tmp_path / "lake", [SUBJECT.email])
    assert any("_delta_log" in f for f in found[SUBJECT.email.lower()])

    salt = subject_salt(config.lakehouse).value
    keys = erasure_keys([SUBJECT.email], lake.read("customer_landing"), Tombstones.empty(), salt)
    result = erase_from_table(config, "customer_landing", keys)
    assert result.rows_removed == 1 and result.files_vacuumed == 2
    assert files_containing(tmp_path / "lake", SUBJECT.needles()) == {}
    assert lake.read("customer_landing")["email"].to_pylist() == ["zz@other.test"]
    assert (
        lake.delta("customer_landing").metadata().configuration["delta.logRetentionDuration"]
        == "interval 30 days"
    )
