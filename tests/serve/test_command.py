"""`convo serve` as a command: one process, the SDK against it, the access log, shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.serve.conftest import UPSTREAM_KEY, _free_port
from tests.support import ChatServer

openai = pytest.importorskip("openai")


def test_convo_serve_runs_and_logs_one_line_per_request(
    upstream: ChatServer, tmp_path: Path
) -> None:
    port = _free_port()
    env = {**os.environ, "OPENAI_BASE_URL": upstream.url, "OPENAI_API_KEY": UPSTREAM_KEY}
    cmd = [
        sys.executable,
        "-m",
        "convo.cli",
        "serve",
        "--port",
        str(port),
        "--db",
        f"sqlite:///{tmp_path / 'c.db'}",
        "--api-key",
        "sk-tenant-1",
        "--model",
        "gpt-4o-mini",
    ]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    try:
        client = openai.OpenAI(
            base_url=f"http://127.0.0.1:{port}/v1",
            api_key="sk-tenant-1",
            max_retries=0,
            default_headers={"X-Convo-Conversation": "cmd-1"},
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                reply = client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "secret words"}]
                )
                break
            except openai.APIConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert reply.choices[0].message.content == "echo: secret words"
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "1 tenant key(s)" in err
    lines = [line for line in err.splitlines() if "/v1/chat/completions" in line]
    assert len(lines) == 1 and " 200 " in lines[0] and "conversation=cmd-1" in lines[0]
    assert "tenant=t" in lines[0]
    for secret in ("sk-tenant-1", UPSTREAM_KEY, "secret words"):
        assert secret not in err


def test_without_keys_only_loopback() -> None:
    from click.testing import CliRunner

    from convo.cli import cli
    from convo.plugins.serve_command import serve

    cli.add_command(serve)
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0"], standalone_mode=False)
    assert result.exception is not None and "loopback only" in str(result.exception)
