"""Per-model entries in ``models.json`` (base URL, key variable, window) and the writers
behind ``convo models default`` and ``convo models alias``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from convo import Conversation, InputError, ModelCall, UnknownModelError, models
from convo.plugins import PluginManager
from convo.transports.openai import OpenAITransport
from tests.support import ChatServer

SECRET = "sk-test-not-for-eyes-0123456789"


@pytest.fixture
def pm(fresh_manager: PluginManager, config_dir: Path) -> PluginManager:
    fresh_manager._entry_points = False
    return fresh_manager


def _write(config_dir: Path, data: dict[str, Any]) -> None:
    (config_dir / "models.json").write_text(json.dumps(data), encoding="utf-8")


def _request(conv: Conversation, text: str) -> Any:
    with conv.stream(text) as stream:
        for event in stream.events():
            if isinstance(event, ModelCall):
                request = event.request
    return request


def test_openai_and_a_local_server_side_by_side(
    pm: PluginManager, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-must-not-reach-vllm")
    monkeypatch.setenv("CLOUD_KEY", SECRET)
    with ChatServer() as cloud, ChatServer() as vllm:
        _write(
            config_dir,
            {
                "models": {
                    "gpt-4o-mini": {"base_url": cloud.url, "api_key_env": "CLOUD_KEY"},
                    "llama-3.1-8b": {"base_url": vllm.url, "context_window": 300},
                }
            },
        )
        with Conversation(model="gpt-4o-mini") as conv:
            assert isinstance(conv.transport, OpenAITransport)
            assert conv.send("hi").text == "echo: hi"
        with Conversation(model="llama-3.1-8b") as conv:
            assert conv.send("hello").text == "echo: hello"
            # The configured window is the budget's: 300 less the reply's reserve.
            assert _request(conv, "again").budget < 300
        assert cloud.requests[-1].headers["authorization"] == f"Bearer {SECRET}"
        # A base_url without api_key_env sends no key (OpenAI's stays with OpenAI).
        assert "authorization" not in vllm.requests[-1].headers
        assert vllm.requests[-1].json["model"] == "llama-3.1-8b"


def test_a_missing_key_variable_is_named(pm: PluginManager, config_dir: Path) -> None:
    _write(
        config_dir,
        {"models": {"m": {"base_url": "http://127.0.0.1:9/v1", "api_key_env": "NOPE_KEY"}}},
    )
    with pytest.raises(InputError, match=r"\$NOPE_KEY .*not set"):
        models.get_transport("m")


def test_the_key_never_shows(
    pm: PluginManager, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOUD_KEY", SECRET)
    _write(
        config_dir,
        {"models": {"m": {"base_url": "http://127.0.0.1:9/v1", "api_key_env": "CLOUD_KEY"}}},
    )
    with models.get_transport("m") as transport:
        assert SECRET not in repr(transport)
    assert SECRET not in repr(models.configured())


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"api_key": "sk-x"}, "holds an 'api_key'"),
        ({"base_url": "ftp://x"}, "base_url must be"),
        ({"api_key_env": "not a name"}, "api_key_env must be"),
        ({"context_window": 0}, "context_window must be"),
        ({"context_window": True}, "context_window must be"),
        ({"colour": "red"}, "unknown keys colour"),
        ("http://x", "must be an object"),
    ],
)
def test_bad_entries_are_refused_with_the_file_and_model(
    pm: PluginManager, config_dir: Path, entry: Any, message: str
) -> None:
    _write(config_dir, {"models": {"m": entry}})
    with pytest.raises(InputError, match=message) as info:
        models.get_transport("m")
    assert "models.json: models.m" in str(info.value)
    assert "sk-x" not in str(info.value)


def test_default_and_aliases_are_written_to_models_json(
    pm: PluginManager, config_dir: Path
) -> None:
    _write(config_dir, {"mcp": ["python server.py"]})
    models.set_alias("fast", "gpt-4.1-nano")
    models.set_default("fast")
    assert models.default_choice() == ("gpt-4.1-nano", "models.json")
    data = json.loads((config_dir / "models.json").read_text())
    assert data == {
        "mcp": ["python server.py"],
        "aliases": {"fast": "gpt-4.1-nano"},
        "default": "fast",
    }
    models.remove_alias("fast")
    assert "fast" not in models.aliases()
    with pytest.raises(InputError, match="no alias 'fast'"):
        models.remove_alias("fast")


def test_unknown_names_are_not_written(pm: PluginManager, config_dir: Path) -> None:
    with pytest.raises(UnknownModelError, match="known models are"):
        models.set_default("gtp-4o")
    with pytest.raises(UnknownModelError):
        models.set_alias("f", "gtp-4o")
    assert not (config_dir / "models.json").exists()
    # A configured model is known.
    _write(config_dir, {"models": {"mine": {"base_url": "http://127.0.0.1:9/v1"}}})
    models.set_default("mine")
    assert models.default_model() == "mine"
