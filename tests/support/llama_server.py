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
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import free_port, stop, wait_until_ready

STARTUP_TIMEOUT = 120.0


def start(
    model: Path, *, chat_format: str = "chatml-function-calling"
) -> tuple[subprocess.Popen[bytes], str]:
    """Start the server on a free port; returns the process and its base URL once it answers."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model),
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096",
        "--chat_format", chat_format, "--seed", "0", "--verbose", "False",
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "NO_PROXY": "*"}
    )
    base = f"http://127.0.0.1:{port}/v1"
    wait_until_ready(proc, f"{base}/models", "llama_cpp.server", STARTUP_TIMEOUT)
    return proc, base


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
