"""The table registry: one behaviour suite over every declared table."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from expectations import load_suite
from stedi.catalog import lakehouse_ddl
from stedi.privacy.subjects import TABLE_KEYS
from stedi.registry import REGISTRY, Registry, TableSpec, Zone
from stedi.storage import Lake
from tests.built import built_lake

SPECS = list(REGISTRY.specs.values())


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Path:
    return built_lake(tmp_path_factory)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_validated_table_has_its_suite(spec: TableSpec) -> None:
    if spec.zone is Zone.PRIVACY or spec.name == "ingest_log":
        assert spec.suite is None  # bookkeeping tables written by erasure and ingest, not rules
        return
    assert spec.suite == spec.name
    assert load_suite(spec.suite)["expectations"]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_personal_columns_carry_no_statistics(spec: TableSpec, lake_root: Path) -> None:
    assert set(spec.personal) <= set(spec.schema.names)
    assert not set(spec.personal) & set(spec.stats_columns)
    lake = Lake(str(lake_root), {})
    if lake.exists(spec.name):
        configured = lake.delta(spec.name).metadata().configuration["delta.dataSkippingStatsColumns"]
        assert not set(spec.personal) & set(configured.split(","))


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_erasure_reaches_every_table_with_personal_data(spec: TableSpec) -> None:
    if not spec.personal:
        return
    assert spec.subject is not None, f"{spec.name} holds personal data but declares no subject column"
    if spec.zone is not Zone.PRIVACY:
        assert TABLE_KEYS[spec.name] == (spec.subject[0], str(spec.subject[1]))


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_ddl_lists_every_data_table(spec: TableSpec, lake_root: Path) -> None:
    ddl = lakehouse_ddl(Lake(str(lake_root), {}), "stedi", "s3://bucket/prefix")
    listed = f"`stedi`.`{spec.name}`" in ddl
    assert listed == (spec.zone is not Zone.PRIVACY)


def test_build_order_puts_every_table_after_its_inputs() -> None:
    order = REGISTRY.build_order()
    assert order[-1] == "machine_learning_curated"
    for position, name in enumerate(order):
        assert all(i not in order[position:] for i in REGISTRY[name].inputs)


def test_a_cycle_or_an_undeclared_input_is_refused() -> None:
    schema = pa.schema([("a", pa.int64())])
    a = TableSpec("a", Zone.TRUSTED, schema, "a", inputs=("b",), rule="m:f")
    b = TableSpec("b", Zone.TRUSTED, schema, "b", inputs=("a",), rule="m:f")
    with pytest.raises(ValueError, match="cycle"):
        Registry([a, b])
    with pytest.raises(ValueError, match="undeclared"):
        Registry([a])
    with pytest.raises(ValueError, match="names no rule"):
        Registry([TableSpec("c", Zone.TRUSTED, schema, "c")])


def test_an_unknown_table_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known tables are ingest_log"):
        REGISTRY["customers"]
