"""Helpers for the CLI tests that run the real ``convo`` command in a subprocess."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path


def closed_port() -> int:
    """A loopback port nothing listens on (connecting is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def convo_cmd() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m convo.cli``."""
    script = Path(sys.executable).with_name("convo")
    if script.is_file():
        return [str(script)]
    found = shutil.which("convo")
    return [found] if found else [sys.executable, "-m", "convo.cli"]


def run_convo(
    env: dict[str, str], *args: str, input: str = "", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the real ``convo`` command and wait for it."""
    return subprocess.run(
        [*convo_cmd(), *args],
        input=input,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
