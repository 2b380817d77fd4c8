"""examples/agent.py against a real Chat Completions server on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import Answer, ChatServer

AGENT = Path(__file__).parents[1] / "examples" / "agent.py"


def _run(server: ChatServer, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CONVO_"))}
    env.update(
        OPENAI_BASE_URL=server.url,
        CONVO_MODEL="gpt-4o-mini",
        CONVO_CONFIG_DIR=str(tmp_path),
        NO_PROXY="*",
    )
    return subprocess.run(
        [sys.executable, str(AGENT), "What is 23 * 19?"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "multiply", "arguments": {"a": 23, "b": 19}}',
        '<tool_call>\n{"name": "multiply", "arguments": {"a": 23, "b": 19}}\n</tool_call>',
        '```json\n[{"name": "weather", "parameters": {"city": "Oslo"}}]\n```',
    ],
)
def test_a_tool_call_written_as_the_answer_is_not_shown_as_one(tmp_path: Path, text: str) -> None:
    with ChatServer() as server:
        server.script(Answer(tool_calls=[("multiply", {"a": 23, "b": 19})]), Answer(text))
        result = _run(server, tmp_path)
        # The second request, after the tool round, asked for an answer, not more calls.
        assert server.requests[-1].json["tool_choice"] == "none"
    assert result.returncode == 1
    assert result.stdout == "  [tool] multiply({'a': 23.0, 'b': 19.0}) -> 437.0\n"
    assert result.stderr.startswith("The model gave no answer: after its tool round")
    assert "multiply({'a': 23.0, 'b': 19.0}) -> 437.0" in result.stderr
    assert '"name"' not in result.stdout + result.stderr


def test_an_answer_is_printed(tmp_path: Path) -> None:
    with ChatServer() as server:
        server.script(Answer(tool_calls=[("multiply", {"a": 23, "b": 19})]), Answer("437."))
        result = _run(server, tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines()[-1] == "437."
