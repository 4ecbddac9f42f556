"""Where the subject salt comes from: a Prefect Secret block, then the environment, then a local file."""

from __future__ import annotations

from pathlib import Path

import pytest

from stedi.config import SALT_BLOCK, subject_salt
from stedi.errors import InputError


def no_block(name: str) -> str | None:
    return None


def test_a_secret_block_wins_over_the_environment(tmp_path: Path) -> None:
    blocks = {SALT_BLOCK: "from-block"}
    salt = subject_salt(str(tmp_path), env={"STEDI_SUBJECT_SALT": "from-env"}, secret=blocks.get)
    assert (salt.value, salt.source) == (b"from-block", f"Prefect Secret block {SALT_BLOCK}")


def test_the_environment_comes_next(tmp_path: Path) -> None:
    salt = subject_salt(str(tmp_path), env={"STEDI_SUBJECT_SALT": "from-env"}, secret=no_block)
    assert salt.value == b"from-env"


def test_a_local_lake_gets_a_local_salt_file_once(tmp_path: Path) -> None:
    first = subject_salt(str(tmp_path / "lake"), env={}, workdir=tmp_path, secret=no_block)
    again = subject_salt(str(tmp_path / "lake"), env={}, workdir=tmp_path, secret=no_block)
    assert first.source.startswith("new local salt file") and again.value == first.value
    assert len(first.value) == 64 and "salt file" in repr(first) and first.value.decode() not in repr(first)


def test_a_remote_lake_never_gets_an_automatic_salt(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="create the Prefect Secret block stedi-subject-salt"):
        subject_salt("s3://bucket/lake", env={}, workdir=tmp_path, secret=no_block)


def test_outside_a_flow_without_an_api_no_prefect_server_is_started(tmp_path: Path) -> None:
    from stedi.config import prefect_secret

    assert prefect_secret(SALT_BLOCK) is None


@pytest.mark.slow
def test_inside_a_flow_the_secret_block_is_read(prefect_harness: None, tmp_path: Path) -> None:
    from prefect import flow
    from prefect.blocks.system import Secret

    @flow
    def salt_source(lakehouse: str) -> str:
        return subject_salt(lakehouse).source

    assert salt_source(str(tmp_path)) == "environment variable STEDI_SUBJECT_SALT"
    Secret(value="block-salt").save(SALT_BLOCK, overwrite=True)
    try:
        assert salt_source(str(tmp_path)) == f"Prefect Secret block {SALT_BLOCK}"
    finally:
        Secret.delete(SALT_BLOCK)


def test_an_api_url_in_any_prefect_setting_source_is_noticed(tmp_path: Path) -> None:
    from stedi.config import prefect_api_may_be_configured

    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = {"PREFECT_HOME": str(home)}
    assert not prefect_api_may_be_configured(env, work)
    assert prefect_api_may_be_configured({**env, "PREFECT_API_URL": "http://x/api"}, work)
    own = {**env, "PREFECT_API_URL": "http://x/api", "STEDI_TEMPORARY_API_URL": "http://x/api"}
    assert not prefect_api_may_be_configured(own, work)  # only `stedi run`'s own temporary server
    (home / "profiles.toml").write_text('[profiles.default]\nPREFECT_API_URL = "http://x/api"\n')
    assert prefect_api_may_be_configured(env, work)
    (home / "profiles.toml").unlink()
    (work / "prefect.toml").write_text('[api]\nurl = "http://x/api"\n')
    assert prefect_api_may_be_configured(env, work)
