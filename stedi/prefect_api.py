"""A temporary Prefect API server for CLI runs, started before anything else is imported.

Without PREFECT_API_URL a Prefect flow starts its own temporary server on first use: the flow
process first imports Prefect's server modules (≈ 5 s) and then waits while a subprocess imports
them again and migrates its database (≈ 3 to 10 s), after every other import is done. `stedi run`
instead starts the same server (uvicorn with Prefect's app factory, UI off, the current
PREFECT_HOME database) as its very first step, so the server boots on one core while the CLI
imports Prefect, Great Expectations and the flow on the other. The server dies with the CLI
(parent-death signal), also when the CLI is killed.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import functools
import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from stedi.config import TEMPORARY_API_ENV
from stedi.errors import TransientError
from stedi.process import die_with_parent

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.settings import Settings

F = TypeVar("F", bound="Flow[Any, Any]")
_JSON_SCALARS = (str, bool, int, float, type(None))

_SERVER_ENV = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
# Unless the user says otherwise: no block-type catalogue. At every start Prefect imports each
# installed integration (prefect-aws, prefect-dask) to hash its block types, and on a new database
# registers them all (≈ 1 to 3 s). A run reads at most the Secret block of the salt, which
# exists only where blocks were saved, and saving them (deployments.setup, `prefect block`)
# goes to a server that registers the types itself.
_SERVER_DEFAULTS = {
    "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
    "PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false",
}
_UVICORN_ARGS = (
    *("--factory", "prefect.server.api.server:create_app", "--log-level", "error", "--lifespan", "on"),
    *("--host", "127.0.0.1", "--port"),
)
_STARTUP_ENV = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class TemporaryServer:
    """One Prefect API server subprocess on a free 127.0.0.1 port."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        spec = importlib.util.find_spec("prefect")
        if spec is None or spec.origin is None:
            raise TransientError("prefect is not installed: pip install prefect")
        self._app_dir = str(Path(spec.origin).parent.parent)
        self._env = dict(os.environ if env is None else env)
        self.port = _free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> TemporaryServer:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--app-dir", self._app_dir, *_UVICORN_ARGS, str(self.port)],
            env={**_SERVER_DEFAULTS, **self._env, **_SERVER_ENV},
            stdin=subprocess.DEVNULL,
            preexec_fn=functools.partial(die_with_parent, os.getpid()),
        )
        atexit.register(self.stop)  # registered before Prefect is imported, so it runs after Prefect's hooks
        return self

    def wait_until_healthy(self) -> None:
        """Block until the API answers; a server that exits early (port taken) is restarted once."""
        timeout = float(self._env.get(_STARTUP_ENV, "180"))
        deadline = time.monotonic() + timeout
        restarted = False
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                if restarted:
                    break
                restarted = True
                self.port = _free_port()
                self.start()
                continue
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise TransientError(
            f"the temporary Prefect server did not answer within {timeout:.0f} s: raise {_STARTUP_ENV}, "
            "or start one with `prefect server start` and set PREFECT_API_URL"
        )

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def without_default_heartbeats(settings: Settings) -> Settings:
    """`settings` with flow heartbeats off, unless their frequency was set (environment, profile)."""
    flows = settings.flows
    if "heartbeat_frequency" in flows.model_fields_set:
        return settings
    return settings.model_copy(update={"flows": flows.model_copy(update={"heartbeat_frequency": None})})


def plain_parameters(flow: F) -> F:
    """A copy of `flow` that hands scalar parameters to the Prefect API as they are.

    Creating a flow run, Prefect converts each parameter with FastAPI's `jsonable_encoder`, and
    importing FastAPI for it costs ≈ 0.1 to 0.3 s before the run starts (nothing else in a run
    imports FastAPI). For str, bool, int, float and None that conversion returns the value itself;
    parameters of any other type still go through Prefect's conversion.
    """
    prefect_way = flow.serialize_parameters

    def serialize(parameters: dict[str, Any]) -> dict[str, Any]:
        if all(isinstance(v, _JSON_SCALARS) for v in parameters.values()):
            return dict(parameters)
        return prefect_way(parameters)

    plain = copy.copy(flow)
    setattr(plain, "serialize_parameters", serialize)  # noqa: B010 - an instance attribute, on the copy only
    return plain


@contextlib.contextmanager
def prefect_api(server: TemporaryServer | None) -> Iterator[str | None]:
    """Point Prefect at `server` for the block's duration, unless Prefect already has an API.

    Prefect is imported here (the server is booting meanwhile). An API URL from the user's
    Prefect profile wins: the temporary server is then stopped unused.

    Flow runs started here (by the CLI, on any server) send no heartbeats unless the user set
    their frequency (PREFECT_FLOWS_HEARTBEAT_FREQUENCY): at the end of a run Prefect waits for its
    heartbeat thread, which wakes once a second (≈ 0.5 s, up to 1 s, per run). Heartbeats let a
    server mark a run whose process vanished as crashed; a temporary server ends with the run,
    and a CLI run reports its own end. Deployment runs (started by a worker) keep Prefect's default.
    """
    from prefect.context import SettingsContext, get_settings_context
    from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    no_heartbeats = {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    configured = PREFECT_API_URL.value()
    if server is None or (configured and configured != server.api_url):
        if server is not None:
            server.stop()
        # The settings as they are, but for the heartbeats: a copy, not a validated rebuild of every
        # setting from its sources (`temporary_settings`, ≈ 0.07 s).
        current = get_settings_context()
        with SettingsContext(profile=current.profile, settings=without_default_heartbeats(current.settings)):
            yield configured
        return
    server.wait_until_healthy()
    os.environ["PREFECT_API_URL"] = server.api_url  # for subprocesses such as local Dask workers
    try:
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}, set_defaults=no_heartbeats):
            yield server.api_url
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        os.environ.pop(TEMPORARY_API_ENV, None)
