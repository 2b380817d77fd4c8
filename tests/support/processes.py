"""Servers the tests start as child processes: a free port, waiting until one answers, stopping.

Shared by the real peers (``llama_server.py``, ``llama_cpp_server.py``), so that each
says only how its server is started and which URL says it is ready.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_ready(proc: subprocess.Popen[bytes], url: str, name: str, timeout: float) -> None:
    """Poll ``url`` until it answers 200 (a loading server answers 503 or refuses).

    Raises ``RuntimeError`` with the end of the server's stderr if it exits first, or
    after stopping it when ``timeout`` seconds pass.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{err[-2000:]}")
        try:
            with _opener.open(url, timeout=1.0) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    stop(proc)
    raise RuntimeError(f"{name} did not answer within {timeout:.0f}s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server (terminate, then kill if it lingers)."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stderr:
        proc.stderr.close()
