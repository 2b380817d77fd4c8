"""The real ``convo`` console script runs ``logs``, ``rm``, ``path`` and ``models default``
/ ``alias``, against a Chat Completions server on 127.0.0.1 configured in models.json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.helpers import run_convo
from tests.support import ChatServer


def test_new_commands_in_a_subprocess(
    subprocess_env: dict[str, str], tmp_path: Path, server: ChatServer
) -> None:
    env = {**subprocess_env, "LOCAL_KEY": "sk-e2e-secret-987"}
    config = tmp_path / "config"
    config.mkdir()
    entry = {"base_url": server.url, "api_key_env": "LOCAL_KEY", "context_window": 2048}
    (config / "models.json").write_text(json.dumps({"models": {"vllm-model": entry}}))

    def ok(*args: str) -> str:
        result = run_convo(env, *args)
        assert result.returncode == 0, result.stderr
        assert "sk-e2e-secret-987" not in result.stdout + result.stderr
        return result.stdout

    ok("models", "alias", "v", "vllm-model")
    ok("models", "default", "v")
    assert ok("models", "default") == "vllm-model\n"
    assert ok("ask", "hello there") == "echo: hello there\n"
    assert server.requests[-1].headers["authorization"] == "Bearer sk-e2e-secret-987"

    turns = json.loads(ok("logs", "--json"))
    assert len(turns) == 1 and turns[0]["latency_ms"] is not None
    cid = turns[0]["conversation"]
    assert f"{cid}  turn 1" in ok("logs", cid[:8])
    assert ok("path", "models") == f"{config / 'models.json'}\n"

    assert ok("rm", "--yes", cid[:8]) == f"Deleted {cid}\n"
    gone = run_convo(env, "rm", "--yes", cid[:8])
    assert (gone.returncode, gone.stderr) == (1, f"Error: no conversation with id {cid[:8]!r}\n")
    empty = run_convo(env, "logs")
    assert (empty.returncode, empty.stdout, empty.stderr) == (0, "", "No conversations yet.\n")


@pytest.mark.parametrize(
    ("command", "unused"),
    [
        ("--help", ["rich", "tiktoken", "httpx2", "jinja2", "sqlalchemy", "pydantic", "yaml"]),
        # ls reads the store (SQLAlchemy, pydantic values) and nothing else.
        ("ls", ["rich", "tiktoken", "httpx2", "jinja2", "yaml", "pluggy", "readline"]),
    ],
)
def test_start_up_does_not_import_what_the_command_does_not_use(
    subprocess_env: dict[str, str], command: str, unused: list[str]
) -> None:
    # In a fresh interpreter, as the console script runs: its own entry point.
    code = (
        "import sys\n"
        "from convo.cli import main\n"
        f"sys.argv = ['convo', {command!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(' '.join(m for m in {unused!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=subprocess_env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == ""
