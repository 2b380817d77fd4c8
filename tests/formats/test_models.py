"""Model names select the wire format: ``claude-*`` and ``anthropic:`` through the
convo-anthropic entry point, ``responses:`` (and a models.json alias to it) built in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import convo.plugins
from convo import Conversation, models
from convo.plugins import PluginManager
from convo.transports.responses import ResponsesTransport
from tests.support import ChatServer, require


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, chat_server: ChatServer) -> Path:
    monkeypatch.setattr(convo.plugins, "_manager", PluginManager())
    monkeypatch.setenv("CONVO_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("ANTHROPIC_BASE_URL", chat_server.url.removesuffix("/v1"))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env")
    monkeypatch.setenv("OPENAI_BASE_URL", chat_server.url)
    return tmp_path


@pytest.mark.parametrize(
    ("name", "sent"),
    [("claude-sonnet-4-5", "claude-sonnet-4-5"), ("anthropic:claude-x", "claude-x")],
)
def test_claude_names_resolve_to_the_plugin(chat_server: ChatServer, name: str, sent: str) -> None:
    anthropic = require("convo_anthropic.transport", "needs convo-anthropic")
    with models.get_transport(name) as t:
        assert isinstance(t, anthropic.AnthropicTransport)
        assert Conversation(model=name, transport=t).send("hi").text == "echo: hi"
    request = chat_server.requests[-1]
    assert request.path == "/v1/messages" and request.json["model"] == sent
    assert request.headers["x-api-key"] == "sk-ant-env"
    assert "anthropic" in [p.name for p in convo.plugins.plugins()]


def test_models_json_selects_the_responses_api_per_model(
    chat_server: ChatServer, fresh: Path
) -> None:
    (fresh / "models.json").write_text(json.dumps({"aliases": {"gpt-4.1": "responses:gpt-4.1"}}))
    with models.get_transport("gpt-4.1") as t:
        assert isinstance(t, ResponsesTransport)
        assert Conversation(model="gpt-4.1", transport=t).send("hi").text == "echo: hi"
    request = chat_server.requests[-1]
    assert request.path == "/v1/responses" and request.json["model"] == "gpt-4.1"
