"""`convo ask/chat --mcp ...`, the config file's "mcp" list, and servers plugins offer."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from tests.support import require

require("mcp", "needs the official MCP SDK (convo[mcp])")

import convo.plugins
from convo.plugins import PluginManager, hookimpl
from tests.cli.conftest import Convo
from tests.support import Answer, ChatServer

SCRIPT = Path(__file__).parent.parent / "support" / "mcp_server.py"
SERVER = shlex.join([sys.executable, str(SCRIPT), "stdio"])


@pytest.fixture
def model(server: ChatServer, monkeypatch: pytest.MonkeyPatch) -> ChatServer:
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    server.script(Answer(tool_calls=[("add", {"a": 2, "b": 3})]), Answer("It is 5."))
    return server


def _tools_sent(server: ChatServer) -> list[str]:
    return [t["function"]["name"] for t in server.requests[0].json["tools"]]


def test_ask_with_an_mcp_server(run: Convo, model: ChatServer) -> None:
    result = run("ask", "-m", "gpt-4o-mini", "--mcp", SERVER, "2+3?")
    assert result.stdout == "It is 5.\n"
    assert '[tool add({"a": 2, "b": 3}) -> 5]' in result.stderr
    assert "add" in _tools_sent(model)


def test_chat_with_two_servers_and_a_config_file(
    run: Convo, model: ChatServer, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    entry = {"server": SERVER, "prefix": "cfg"}
    (config / "models.json").write_text(json.dumps({"mcp": [entry]}))
    result = run("chat", "-m", "gpt-4o-mini", "--mcp", SERVER, input="2+3?\n")
    assert "It is 5." in result.stdout
    assert {"add", "cfg_add"} <= set(_tools_sent(model))


def test_a_bad_server_is_a_clear_cli_error(run: Convo) -> None:
    result = run("ask", "-m", "gpt-4o-mini", "--mcp", "/no/such/server", "hi", code=1)
    assert "could not be started" in result.stderr


class _Offers:
    @hookimpl
    def register_mcp_servers(self, register: object) -> None:
        register("calc", SERVER, prefix="calc")  # type: ignore[operator]


def test_a_plugin_offers_an_mcp_server_by_name(
    run: Convo, model: ChatServer, fresh_manager: PluginManager
) -> None:
    fresh_manager.add(_Offers(), "offers-mcp")
    assert fresh_manager.mcp_servers() == {"calc": (SERVER, "calc")}
    assert "mcp:calc" in next(p for p in convo.plugins.plugins() if p.name == "offers-mcp").tools
    run("ask", "-m", "gpt-4o-mini", "--mcp", "calc", "2+3?")
    assert "calc_add" in _tools_sent(model)
