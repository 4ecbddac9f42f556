"""Typed run configuration, built in one place from parameters and the environment."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from stedi.errors import InputError
from stedi.policy import Policy

SALT_ENV = "STEDI_SUBJECT_SALT"
LOCAL_SALT_FILE = Path(".stedi") / "subject-salt"

# Keys handed to deltalake and the landing reader when the lake is on S3 or an S3-compatible store.
_STORAGE_ENV_KEYS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ALLOW_HTTP",
    "AWS_S3_ALLOW_UNSAFE_RENAME",
    "AWS_CONDITIONAL_PUT",
)


@dataclass(frozen=True)
class RunConfig:
    """Where to read, where to write, and which policy decides the trusted tables."""

    landing: str
    lakehouse: str
    policy: Policy = Policy.STRICT
    storage_options: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        landing: str,
        lakehouse: str,
        policy: str | Policy = Policy.STRICT,
        env: Mapping[str, str] | None = None,
    ) -> RunConfig:
        env = os.environ if env is None else env
        if not str(landing).strip():
            raise InputError("landing is empty: pass the landing root, e.g. --landing data/landing")
        if not str(lakehouse).strip():
            raise InputError("lakehouse is empty: pass where the Delta tables go, e.g. --lakehouse lakehouse")
        options = {k: env[k] for k in _STORAGE_ENV_KEYS if env.get(k)}
        return cls(
            landing=normalise_uri(landing),
            lakehouse=normalise_uri(lakehouse),
            policy=Policy.parse(policy),
            storage_options=options,
        )


def normalise_uri(uri: str) -> str:
    """Local paths become absolute; URIs with a scheme are kept, without a trailing slash."""
    text = str(uri).strip()
    if "://" in text:
        return text.rstrip("/")
    return str(Path(text).expanduser().resolve())


def is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


@dataclass(frozen=True)
class SaltInfo:
    """The subject-id salt and where it came from (the source is safe to log, the value is not)."""

    value: bytes = field(repr=False)
    source: str


def subject_salt(
    lakehouse: str, env: Mapping[str, str] | None = None, workdir: Path | None = None
) -> SaltInfo:
    """Return the HMAC salt: the environment first, else a local salt file (created for local lakes)."""
    env = os.environ if env is None else env
    value = env.get(SALT_ENV, "")
    if value:
        return SaltInfo(value.encode(), f"environment variable {SALT_ENV}")
    path = (workdir or Path.cwd()) / LOCAL_SALT_FILE
    if path.exists():
        return SaltInfo(path.read_bytes().strip(), f"local salt file {path}")
    if not is_local(lakehouse):
        raise InputError(
            f"no subject salt: set {SALT_ENV} (a long random secret) before writing to {lakehouse}; "
            "a remote lakehouse never gets an automatically created salt"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(secrets.token_hex(32) + "\n")
    path.chmod(0o600)
    return SaltInfo(
        path.read_bytes().strip(), f"new local salt file {path} (created because {SALT_ENV} is unset)"
    )


def quiet_prefect_env() -> None:
    """Silence telemetry of temporary Prefect servers unless the user chose otherwise."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    # The default 20 s is too short on a loaded machine (and `stedi run` imports Great Expectations
    # in the background while the server starts).
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
