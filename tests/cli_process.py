"""Run the `stedi` command in a real subprocess, with pipes or with stderr on a pseudo-terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stedi.generate import GeneratorSpec, generate

COMMAND = (sys.executable, "-m", "stedi.cli")


def stedi(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`stedi ARGS` with stdout and stderr captured (neither is a terminal)."""
    return subprocess.run(
        [*COMMAND, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=None if env is None else dict(env),
        timeout=timeout,
        check=False,
    )


@dataclass(frozen=True)
class TerminalRun:
    returncode: int
    stdout: str  # a pipe
    terminal: str  # everything written to stderr, which was a terminal


def stedi_on_terminal(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 300
) -> TerminalRun:
    """`stedi ARGS` with stderr on a pseudo-terminal (as in an operator's shell) and stdout on a pipe."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [*COMMAND, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        cwd=cwd,
        env=None if env is None else dict(env),
    )
    os.close(slave)
    stdout: list[bytes] = []
    terminal: list[bytes] = []
    assert process.stdout is not None
    streams = {master: terminal, process.stdout.fileno(): stdout}
    deadline = time.monotonic() + timeout
    while streams and time.monotonic() < deadline:
        ready, _, _ = select.select(list(streams), [], [], 0.5)
        for fd in ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # the terminal side reports EIO once the process has closed it
                data = b""
            if data:
                streams[fd].append(data)
            else:
                del streams[fd]
    os.close(master)
    if streams:
        process.kill()
    returncode = process.wait(timeout=30)
    process.stdout.close()
    assert not streams, f"stedi {' '.join(args)} did not finish within {timeout:.0f} s"
    return TerminalRun(returncode, b"".join(stdout).decode(), b"".join(terminal).decode(errors="replace"))


def small_landing(root: Path, customers: int = 20) -> Path:
    """Generated landing data, one file per feed."""
    generate(root, GeneratorSpec(customers=customers, seed=3, files=1))
    return root


def break_emails(landing: Path) -> None:
    """A broken export: no customer address is an email (a blocking expectation fails)."""
    customer_file = next((landing / "customer" / "landing").glob("*.json"))
    records = [json.loads(line) for line in customer_file.read_text().splitlines()]
    for record in records:
        record["email"] = record["email"].replace("@", " at ")
    customer_file.write_text("".join(json.dumps(r) + "\n" for r in records))


def parsed(stdout: str) -> Any:
    """stdout must be exactly one JSON document."""
    return json.loads(stdout)
