"""llama-cpp-python's own OpenAI-compatible server on 127.0.0.1, as a real peer for tests.

Runs ``python -m llama_cpp.server`` on the offline default model (assembled and
verified by convo-llamacpp) with the ``chatml-function-calling`` chat format, waits
until ``/v1/models`` answers, and yields the base URL (``http://127.0.0.1:PORT/v1``).

In a conftest::

    from tests.support.llama_server import llama_server  # noqa: F401

    def test_reply(llama_server: str) -> None:
        with OpenAITransport(llama_server) as t: ...

Wire quirks of this server (0.3.36), seen by hand:

* tools are offered to the model only with an explicit ``tool_choice``;
* ``"content": null`` on an assistant message with ``tool_calls`` is refused (422)
  and a missing ``content`` breaks the chat template (500): send ``""``;
* with ``tool_choice: "auto"`` a text answer is forced through the function-name
  grammar (it reads ``functions.<name>:`` or is empty), and a streamed ``"auto"``
  request fails: only a forced ``tool_choice`` gives dependable tool calls;
* the chat format drops ``role: "tool"`` messages from the prompt, so the model never
  sees tool results;
* a stream carries no usage, even with ``stream_options.include_usage``.
* any other request (even ``GET /v1/models``) that arrives while a stream runs ends
  that stream at once with ``[DONE]`` (``interrupt_requests``, on by default): the
  reply is then an empty delta with no finish reason.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

STARTUP_TIMEOUT = 120.0
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(
    model: Path, *, chat_format: str = "chatml-function-calling"
) -> tuple[subprocess.Popen[bytes], str]:
    """Start the server on a free port; returns the process and its base URL once it answers."""
    port = _free_port()
    cmd = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model),
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096",
        "--chat_format", chat_format, "--seed", "0", "--verbose", "False",
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "NO_PROXY": "*"}
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}:\n{err[-2000:]}")
        try:
            with _opener.open(f"{base}/models", timeout=1.0) as answer:
                if answer.status == 200:
                    return proc, base
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    stop(proc)
    raise RuntimeError(f"llama_cpp.server did not answer within {STARTUP_TIMEOUT:.0f}s")


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


@pytest.fixture(scope="session")
def llama_server() -> Iterator[str]:
    """The base URL of a running llama_cpp.server with the offline model (session-wide)."""
    from tests.support import require

    require("llama_cpp.server.app", "needs llama-cpp-python[server]")
    weights = require("convo_llamacpp.weights", "needs convo-llamacpp")
    proc, base = start(weights.default_model_path())
    try:
        yield base
    finally:
        stop(proc)
