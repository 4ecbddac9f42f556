"""Typed run configuration, built in one place from parameters and the environment."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from stedi.credentials import StorageCredentials
from stedi.errors import InputError, TransientError
from stedi.policy import Policy

SALT_ENV = "STEDI_SUBJECT_SALT"
SALT_BLOCK = "stedi-subject-salt"
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
    # Read on each use and never shown: see stedi/credentials.py.
    storage_options: StorageCredentials = field(
        default_factory=lambda: StorageCredentials.fixed({}), repr=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "storage_options", StorageCredentials.of(self.storage_options))

    @classmethod
    def build(
        cls,
        landing: str,
        lakehouse: str,
        policy: str | Policy = Policy.STRICT,
        env: Mapping[str, str] | None = None,
        storage_options: Mapping[str, str] | None = None,
    ) -> RunConfig:
        """`storage_options` (from stedi.aws) replace the ones read from the AWS_* environment.

        Without them, the AWS_* variables that hold keys are read now; without keys there, deltalake
        and pyarrow find (and refresh) credentials through the AWS provider chain themselves.
        """
        env = os.environ if env is None else env
        if not str(landing).strip():
            raise InputError("landing is empty: pass the landing root, e.g. --landing data/landing")
        if not str(lakehouse).strip():
            raise InputError("lakehouse is empty: pass where the Delta tables go, e.g. --lakehouse lakehouse")
        options = (
            StorageCredentials.of(storage_options)
            if storage_options is not None
            else StorageCredentials.fixed(
                {k: env[k] for k in _STORAGE_ENV_KEYS if env.get(k)}, "the AWS_* environment"
            )
        )
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
    lakehouse: str,
    env: Mapping[str, str] | None = None,
    workdir: Path | None = None,
    secret: Callable[[str], str | None] | None = None,
) -> SaltInfo:
    """Return the HMAC salt: the Prefect Secret block `stedi-subject-salt`, else the environment,
    else a local salt file (created for local lakes only).

    `secret` looks a Secret block up by name (default: Prefect's, when a Prefect API is at hand).
    """
    env = os.environ if env is None else env
    value = (secret or prefect_secret)(SALT_BLOCK)
    if value:
        return SaltInfo(value.encode(), f"Prefect Secret block {SALT_BLOCK}")
    value = env.get(SALT_ENV, "")
    if value:
        return SaltInfo(value.encode(), f"environment variable {SALT_ENV}")
    path = (workdir or Path.cwd()) / LOCAL_SALT_FILE
    if path.exists():
        return SaltInfo(path.read_bytes().strip(), f"local salt file {path}")
    if not is_local(lakehouse):
        raise InputError(
            f"no subject salt: create the Prefect Secret block {SALT_BLOCK} or set {SALT_ENV} "
            f"(a long random secret) before writing to {lakehouse}; "
            "a remote lakehouse never gets an automatically created salt"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(secrets.token_hex(32) + "\n")
    path.chmod(0o600)
    return SaltInfo(
        path.read_bytes().strip(), f"new local salt file {path} (created because {SALT_ENV} is unset)"
    )


def arm_faults(env: Mapping[str, str] | None = None) -> None:
    """Crash-safety tests set STEDI_FAULT_KILL_AT to kill a run at named points (see stedi/faults.py)."""
    from stedi.faults import arm

    env = os.environ if env is None else env
    arm(env.get("STEDI_FAULT_KILL_AT", ""))


def prefect_secret(name: str) -> str | None:
    """The value of the Prefect Secret block `name`; None without a Prefect API or without that block.

    A Prefect API is at hand inside a flow or task run, or when PREFECT_API_URL is set; a CLI call
    outside a flow does not start a temporary server just to look for the block.
    """
    if "prefect" not in sys.modules and not prefect_api_may_be_configured():
        return None  # no flow runs without Prefect imported, and no API is configured: skip the import
    from prefect.blocks.system import Secret
    from prefect.context import FlowRunContext, TaskRunContext
    from prefect.settings import PREFECT_API_URL

    if FlowRunContext.get() is None and TaskRunContext.get() is None and not PREFECT_API_URL.value():
        return None
    try:
        block = cast("Secret[str]", Secret.load(name))  # sync call: a block, not a coroutine
    except ValueError:  # Prefect's answer for a block that does not exist
        return None
    except Exception as exc:
        raise TransientError(
            f"cannot read the Prefect Secret block {name} ({type(exc).__name__}): "
            "check that the Prefect API is reachable; refusing to fall back to another salt"
        ) from exc
    return str(block.get())


_PREFECT_CONFIG_FILES = ("prefect.toml", ".env", "pyproject.toml")
# Set by `stedi run` to the URL of its own temporary server, which it also puts in PREFECT_API_URL:
# that URL alone is not an API the user configured (outside a flow run nothing asks it).
TEMPORARY_API_ENV = "STEDI_TEMPORARY_API_URL"
_API_MARKERS = ("PREFECT_API_URL", "[api]", "prefect.api", "api_url")


def prefect_api_may_be_configured(env: Mapping[str, str] | None = None, workdir: Path | None = None) -> bool:
    """False only when no Prefect setting source can hold an API URL (checked without importing Prefect).

    Importing Prefect to read its settings costs ≈ 1.5 s, most of a no-op `stedi run`: the
    environment, the profiles file and the settings files Prefect reads in the working directory
    are scanned for anything API-like instead, erring towards True.
    """
    env = os.environ if env is None else env
    own = env.get(TEMPORARY_API_ENV)  # the URL `stedi run` set for its own temporary server
    if (env.get("PREFECT_API_URL") and env.get("PREFECT_API_URL") != own) or env.get("PREFECT_PROFILE"):
        return True
    home = Path(env.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    folder = workdir or Path.cwd()
    files = [Path(env.get("PREFECT_PROFILES_PATH") or home / "profiles.toml")]
    files += [folder / name for name in _PREFECT_CONFIG_FILES]
    for file in files:
        try:
            text = file.read_text(errors="replace")
        except OSError:
            continue
        if any(marker.lower() in text.lower() for marker in _API_MARKERS):
            return True
    return False


def quiet_prefect_env() -> None:
    """Silence telemetry of temporary Prefect servers unless the user chose otherwise."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    # A temporary server on a busy machine can take longer than Prefect's default 20 s to answer.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
