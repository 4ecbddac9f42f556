"""Contracts with what this project relies on beyond the public APIs of its dependencies, and with the lock.

Prefect and Great Expectations are used through a few private hooks (environment variables that Prefect
reads only internally, a module constant of GX). An upgrade that renames one breaks nothing loudly: the
hook just stops working. Each test here fails on such an upgrade and says what to change.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import re
import tomllib
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO

LOCK = REPO / "requirements.lock"
PROJECT = "stedi-lakehouse"
# Date-versioned (CalVer) packages have no major version to put a ceiling on.
NO_CEILING = {"distributed", "dask"}


# --- Prefect -------------------------------------------------------------------------------------------


def test_the_temporary_server_starts_like_prefects_own_subprocess_server() -> None:
    """stedi/prefect_api.py copies how Prefect launches its ephemeral server (uvicorn, app factory, env)."""
    from prefect.server.api.server import SubprocessASGIServer

    from stedi.prefect_api import _SERVER_ENV, _UVICORN_ARGS

    launcher = inspect.getsource(SubprocessASGIServer)
    factory = _UVICORN_ARGS[_UVICORN_ARGS.index("--factory") + 1]
    hint = (
        "Prefect changed how it starts its ephemeral server "
        "(prefect.server.api.server.SubprocessASGIServer): "
        "make _SERVER_ENV and _UVICORN_ARGS in stedi/prefect_api.py match it again"
    )
    assert f'"{factory}"' in launcher, f"app factory {factory} no longer used. {hint}"
    for name, value in _SERVER_ENV.items():
        assert f'"{name}": "{value}"' in launcher, f"{name}={value} no longer set. {hint}"


def test_the_app_factory_reads_the_private_server_variables() -> None:
    from stedi.prefect_api import _SERVER_ENV, _UVICORN_ARGS

    module, _, name = _UVICORN_ARGS[_UVICORN_ARGS.index("--factory") + 1].partition(":")
    try:
        create_app = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        pytest.fail(
            f"Prefect's server app factory {module}:{name} moved ({exc}): update stedi/prefect_api.py"
        )
    source = inspect.getsource(create_app)
    for variable in (v for v in _SERVER_ENV if v.startswith("PREFECT__")):
        assert f'"{variable}"' in source, (
            f"{module}:{name} no longer reads {variable}: the temporary server of `stedi run` would start "
            "with Prefect's defaults; find what replaced it and update _SERVER_ENV in stedi/prefect_api.py"
        )


# Settings this project sets by environment variable name (stedi/config.py, tests/conftest.py, the
# deployment test): Prefect ignores an unknown name silently, so a rename must fail here.
PREFECT_ENVIRONMENT = [
    (
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS",
        "123",
        "server.ephemeral.startup_timeout_seconds",
        123,
    ),
    ("PREFECT_SERVER_ANALYTICS_ENABLED", "false", "server.analytics_enabled", False),
    ("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore", "logging.to_api.when_missing_flow", "ignore"),
    ("PREFECT_UI_ENABLED", "0", "server.ui.enabled", False),
    ("PREFECT_WORKER_QUERY_SECONDS", "2", "worker.query_seconds", 2),
    ("PREFECT_SERVER_API_PORT", "4321", "server.api.port", 4321),
]


@pytest.mark.parametrize(("variable", "value", "path", "expected"), PREFECT_ENVIRONMENT)
def test_prefect_reads_the_settings_we_set_by_name(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, path: str, expected: Any
) -> None:
    from prefect.settings import Settings

    monkeypatch.setenv(variable, value)
    setting: Any = Settings()
    for part in path.split("."):
        setting = getattr(setting, part)
    assert setting == expected, (
        f"Prefect no longer reads {variable} into settings.{path}: find the new name in Prefect's settings "
        "reference and update stedi/config.py, stedi/prefect_api.py and the tests that set it"
    )


def test_a_flow_run_context_names_its_task_runner() -> None:
    """tasks/parallel.on_dask() tells a Dask run by the flow run context's task_runner."""
    from prefect.context import FlowRunContext

    assert "task_runner" in FlowRunContext.model_fields, (
        "FlowRunContext has no task_runner any more: update on_dask() in tasks/parallel.py"
    )


def test_the_process_pool_task_runner_exists() -> None:
    """The floor prefect>=3.4.14 in pyproject.toml is the first release with ProcessPoolTaskRunner."""
    from prefect.task_runners import ProcessPoolTaskRunner

    assert "initializer" in inspect.signature(ProcessPoolTaskRunner).parameters


def test_prefect_still_rejects_a_picked_aws_credentials_block() -> None:
    """Why the deployments set enforce_parameter_schema: false (prefect.yaml, deployments/remote.yaml).

    Prefect's parameter check lets a block parameter be either the block's fields or a `$ref` to a saved
    block, as "exactly one of"; all of AwsCredentials' fields are optional, so a `$ref` matches both and
    the server answers 409 to a run with a block picked in the UI.
    """
    from prefect.utilities.callables import parameter_schema
    from prefect.utilities.schema_tools.validation import ValidationError, validate

    from flows.stedi_lakehouse import stedi_lakehouse

    schema = parameter_schema(stedi_lakehouse).model_dump_for_openapi()
    picked = {"$ref": {"block_document_id": "0b7e8c1e-5a6f-4f5e-9a36-7d0e4b8f2c11"}}
    params = {"landing": "landing", "lakehouse": "lake", "aws_credentials": picked}
    with pytest.raises(ValidationError, match="is valid under each of"):
        validate(params, schema, raise_on_error=True, preprocess=True)
    # If this stops raising, Prefect accepts picked blocks: set enforce_parameter_schema back to true.
    validate(params | {"aws_credentials": "stedi-aws"}, schema, raise_on_error=True, preprocess=True)


# --- Great Expectations --------------------------------------------------------------------------------


def _batch_markers(frame: pa.Table) -> dict[str, Any]:
    from stedi.validation import _batch_definition

    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame.to_pandas()})
    return dict(batch.batch_markers)


def test_gx_no_longer_fingerprints_our_batches() -> None:
    """GX hashes every in-memory frame below its HASH_THRESHOLD; stedi.validation sets it to 0."""
    from great_expectations.execution_engine import pandas_execution_engine

    assert hasattr(pandas_execution_engine, "HASH_THRESHOLD"), (
        "great_expectations.execution_engine.pandas_execution_engine.HASH_THRESHOLD is gone: find how GX "
        "decides to fingerprint a dataframe now and update _batch_definition() in stedi/validation.py"
    )
    markers = _batch_markers(pa.table({"a": [1, 2, 3]}))
    assert pandas_execution_engine.HASH_THRESHOLD == 0
    assert "pandas_data_fingerprint" not in markers, (
        "GX fingerprinted a batch although HASH_THRESHOLD is 0: it no longer reads the constant; every "
        "validated batch is hashed row by row again. Update _batch_definition() in stedi/validation.py"
    )


def test_the_fingerprint_check_would_see_a_fingerprint() -> None:
    """The test above can fail: with GX's own threshold, the same batch is fingerprinted."""
    from great_expectations.execution_engine import pandas_execution_engine

    _batch_markers(pa.table({"a": [0]}))  # builds the cached context, which sets the threshold to 0
    saved, pandas_execution_engine.HASH_THRESHOLD = pandas_execution_engine.HASH_THRESHOLD, 1e9
    try:
        assert "pandas_data_fingerprint" in _batch_markers(pa.table({"a": [1, 2, 3]}))
    finally:
        pandas_execution_engine.HASH_THRESHOLD = saved


def test_gx_progress_bars_stay_off(capfd: pytest.CaptureFixture[str]) -> None:
    """ProgressBarsConfig lives in a GX internal module; without it every part validated draws a bar."""
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from stedi.validation import Part, _batch_definition, run_part

    context = _batch_definition().data_asset.datasource.data_context
    assert isinstance(context.variables.progress_bars, ProgressBarsConfig)
    assert context.variables.progress_bars.globally is False
    expectation = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}}
    capfd.readouterr()
    (result,) = run_part(Part("contract.rows.0", (0,), (expectation,), pa.table({"a": [1, None, 3]})))
    assert (result.success, result.unexpected) == (False, 1)
    err = capfd.readouterr().err
    assert not re.search(r"\d+%\|", err), (
        "GX drew a progress bar: it no longer honours ProgressBarsConfig(globally=False) from "
        "great_expectations.data_context.types.base; update _batch_definition() in stedi/validation.py\n"
        + err
    )


# --- The lock file -------------------------------------------------------------------------------------


def _locked() -> dict[str, tuple[str, str | None]]:
    """Package name -> (pinned version, environment marker) as written in requirements.lock."""
    pins: dict[str, tuple[str, str | None]] = {}
    pattern = re.compile(
        r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;\\]+)(?:\s*;\s*([^\\\n]+?))?\s*\\?$", re.M
    )
    for name, version, marker in pattern.findall(LOCK.read_text()):
        pins[canonicalize_name(name)] = (version, marker or None)
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        declared += [Requirement(r) for r in extra if canonicalize_name(Requirement(r).name) != PROJECT]
    return declared


def test_the_lock_satisfies_every_declared_range() -> None:
    locked = _locked()
    stale = [
        f"{r} (locked: {locked.get(canonicalize_name(r.name), ('nothing',))[0]})"
        for r in _declared()
        if canonicalize_name(r.name) not in locked
        or not r.specifier.contains(locked[canonicalize_name(r.name)][0], prereleases=True)
    ]
    assert not stale, (
        f"requirements.lock is older than pyproject.toml: run `make lock`. Not satisfied: {stale}"
    )


def test_the_lock_covers_the_dev_and_dask_extras() -> None:
    assert {"prefect-dask", "distributed", "pytest", "polars", "duckdb", "uv"} <= set(_locked())


def test_every_range_has_a_ceiling() -> None:
    open_ended = [
        str(r)
        for r in _declared()
        if canonicalize_name(r.name) not in NO_CEILING
        and not any(s.operator in {"<", "<=", "~=", "=="} for s in r.specifier)
    ]
    assert not open_ended, (
        f"give these a ceiling below their next major version in pyproject.toml: {open_ended}"
    )


def test_the_installed_versions_are_the_locked_ones() -> None:
    """`make install` installs exactly requirements.lock; a hand-installed upgrade shows up here."""
    wrong = []
    for name, (version, marker) in sorted(_locked().items()):
        if marker and not Marker(marker).evaluate():
            continue
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = "missing"
        if installed != version:
            wrong.append(f"{name} {installed} (locked {version})")
    assert not wrong, f"this environment differs from requirements.lock: run `make install`. {wrong}"


def test_the_lock_records_how_to_refresh_it() -> None:
    header = LOCK.read_text().splitlines()[:3]
    assert "#    make lock" in header, header
    assert Path(REPO / "Makefile").read_text().count("--require-hashes") == 1
