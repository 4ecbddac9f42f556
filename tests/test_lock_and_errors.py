"""Clear errors instead of tracebacks: busy lakehouse, unusable lakehouse, foreign table schema."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from stedi.errors import InputError, SchemaConflictError
from stedi.lock import LakehouseBusyError, lakehouse_lock
from stedi.policy import Policy
from stedi.storage import Lake


def test_second_holder_waits_then_gives_a_clear_message(tmp_path: Path) -> None:
    busy = pytest.raises(LakehouseBusyError, match="another stedi run is working on")
    with lakehouse_lock(str(tmp_path)), busy, lakehouse_lock(str(tmp_path), wait_seconds=0.2, poll=0.05):
        pass
    with lakehouse_lock(str(tmp_path), wait_seconds=0):
        pass  # released when the first holder left


def test_lakehouse_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "lake").write_text("not a folder")
    with pytest.raises(InputError, match="cannot use lakehouse"), lakehouse_lock(str(tmp_path / "lake")):
        pass


def test_table_with_a_foreign_schema_is_a_clear_error(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path), {})
    write_deltalake(lake.uri("customer_trusted"), pa.table({"id": [1, 2]}))
    with pytest.raises(SchemaConflictError, match="has a schema this pipeline cannot write"):
        lake.write("customer_trusted", pa.table({"email": ["a@x.t"]}), mode="append")


def test_unknown_policy_names_the_choices() -> None:
    with pytest.raises(InputError, match="choose one of strict, udacity"):
        Policy.parse("lenient")
