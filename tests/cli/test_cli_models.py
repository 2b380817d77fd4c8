"""``convo models``, ``convo models default`` and ``convo models alias``; models.json entries
served over HTTP; ``--window``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convo import SQLStore
from tests.cli.conftest import Convo
from tests.support import ChatServer

SECRET = "sk-cli-secret-0123456789"


def _settings(tmp_path: Path) -> dict[str, object]:
    return dict(json.loads((tmp_path / "config" / "models.json").read_text()))


def test_default_is_printed_and_set(run: Convo, tmp_path: Path) -> None:
    before = run("models", "default").stdout  # the offline model, or gpt-4o-mini without it
    assert before in ("qwen2.5-coder-0.5b\n", "gpt-4o-mini\n")
    result = run("models", "default", "echo")
    assert "The default model is now fake-echo" in result.stderr
    assert _settings(tmp_path) == {"default": "echo"}
    assert run("models", "default").stdout == "fake-echo\n"
    listing = run("models")
    assert "fake-echo  (plugin fake; aliases: echo; default)" in listing.stdout.splitlines()
    assert listing.stderr == "The default is fake-echo (models.json).\n"
    assert run("ask", "hi").stdout == "fake-echo: ih\n"


def test_an_unknown_default_is_one_line_and_not_written(run: Convo, tmp_path: Path) -> None:
    result = run("models", "default", "gtp-4o", code=1)
    assert result.stderr.startswith("Error: unknown model 'gtp-4o'")
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "config" / "models.json").exists()


def test_aliases_from_the_command_line(run: Convo, tmp_path: Path) -> None:
    run("models", "alias", "quick", "fake:quick")
    assert _settings(tmp_path) == {"aliases": {"quick": "fake:quick"}}
    assert "fake:quick  (plugin fake; aliases: quick)" in run("models").stdout.splitlines()
    assert run("ask", "-m", "quick", "hi").stdout == "fake:quick: ih\n"
    run("models", "alias", "--remove", "quick")
    assert _settings(tmp_path) == {"aliases": {}}
    assert run("models", "alias", "--remove", "quick", code=1).stderr.startswith(
        "Error: no alias 'quick' in "
    )
    assert "Error: give NAME and MODEL" in run("models", "alias", "x", code=2).stderr
    assert "Error: --remove takes" in run("models", "alias", "--remove", "x", "y", code=2).stderr


def test_a_configured_server_is_listed_and_used_without_leaking_the_key(
    run: Convo, server: ChatServer, tmp_path: Path, store: SQLStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    entry = {"base_url": server.url, "api_key_env": "VLLM_KEY", "context_window": 4096}
    (config / "models.json").write_text(json.dumps({"models": {"llama-3.1-8b": entry}}))
    missing = run("ask", "-m", "llama-3.1-8b", "hi", code=1)
    assert missing.stderr.startswith("Error: model 'llama-3.1-8b' reads its API key from $VLLM_KEY")

    monkeypatch.setenv("VLLM_KEY", SECRET)
    listing = run("models").stdout
    assert f"llama-3.1-8b  (models.json: {server.url}, key $VLLM_KEY, window 4096)" in listing
    result = run("ask", "-m", "llama-3.1-8b", "hi there")
    assert result.stdout == "echo: hi there\n"
    assert server.requests[-1].headers["authorization"] == f"Bearer {SECRET}"
    cid = store.latest()
    assert cid is not None
    everything = [listing, result.stderr, run("export", cid).stdout, run("logs", "--json").stdout]
    assert not any(SECRET in text for text in everything)


def test_window_budgets_the_prompt(run: Convo, store: SQLStore) -> None:
    run("ask", "-m", "echo", "word " * 30)
    run("ask", "-c", "word " * 30)
    trimmed = run("ask", "-c", "--window", "100", "--usage", "short one")
    assert "[trimmed: 4 older messages left out to fit the" in trimmed.stderr
    whole = run("ask", "-c", "--usage", "short two")
    assert "[trimmed" not in whole.stderr
    for bad in ("0", "-3", "many"):
        result = run("ask", "--window", bad, "hi", code=2)
        assert result.stderr.startswith("Error: Invalid value for '--window'")
