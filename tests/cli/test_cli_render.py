"""Replies rendered as Markdown on a terminal (rich), and left as they are when piped."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Convo
from tests.cli.helpers import convo_cmd
from tests.support import ChatServer, require

MARKDOWN = "**bold** and `code`"


def test_piped_output_is_the_text_as_sent(run: Convo) -> None:
    # The fake model answers the message reversed: this one comes back as MARKDOWN.
    result = run("ask", "-m", "echo", MARKDOWN[::-1])
    assert result.stdout == f"fake-echo: {MARKDOWN}\n"


def test_a_terminal_gets_rendered_markdown(run: Convo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("convo.cli.render._on_terminal", lambda: True)
    out = run("ask", "-m", "echo", MARKDOWN[::-1]).stdout
    assert "fake-echo: bold and code" in out
    assert "**" not in out and "`" not in out


def test_markdown_in_a_real_terminal(subprocess_env: dict[str, str], server: ChatServer) -> None:
    pexpect = require("pexpect", "runs convo on a pseudo-terminal")
    env = {**subprocess_env, "OPENAI_BASE_URL": server.url, "TERM": "xterm-256color"}
    cmd = convo_cmd()
    child = pexpect.spawn(
        cmd[0],
        [*cmd[1:], "ask", "-m", "gpt-4o-mini", "-n", MARKDOWN],
        env=env,
        timeout=60,
        encoding="utf-8",
    )
    try:
        child.expect(pexpect.EOF)
        out = child.before
    finally:
        child.close(force=True)
    assert child.exitstatus == 0, out
    assert "\x1b[1m" in out  # bold, as the terminal draws it
    assert "**" not in out and "bold" in out
