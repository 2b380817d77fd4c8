"""Model names to transports: aliases (plugins' and the user's) and the default model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from convo import FunctionTransport, InputError, UnknownModelError, models
from convo.plugins import PluginManager, hookimpl
from convo.transports.openai import OpenAITransport


class Local:
    @hookimpl
    def register_transports(self, register: Any) -> None:
        register("tiny", lambda model: FunctionTransport(lambda r: model), aliases=("local",))


@pytest.fixture
def pm(fresh_manager: PluginManager, config_dir: Path) -> PluginManager:
    fresh_manager._entry_points = False  # only what the test adds
    return fresh_manager


def test_unclaimed_names_go_to_the_openai_compatible_transport(
    pm: PluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only once a base URL says which server serves it.
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    with models.get_transport("my-vllm-model") as transport:
        assert isinstance(transport, OpenAITransport)


def test_an_unknown_name_without_a_base_url_is_refused_before_any_io(pm: PluginManager) -> None:
    # It would go to api.openai.com and fail there (or on DNS offline), far from the typo.
    with pytest.raises(UnknownModelError) as info:
        models.get_transport("gtp-4o-mini")
    assert isinstance(info.value, InputError)
    assert info.value.model == "gtp-4o-mini"
    text = str(info.value)
    assert "'gtp-4o-mini'" in text and "given as the model" in text
    assert "convo models" in text and "OPENAI_BASE_URL" in text and "gpt-4o-mini" in text


def test_an_unknown_name_says_where_it_came_from(
    pm: PluginManager, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (config_dir / "models.json").write_text(json.dumps({"aliases": {"fast": "nope-1"}}))
    with pytest.raises(UnknownModelError, match=r"'nope-1' \(the alias 'fast' in .*models\.json\)"):
        models.get_transport("fast")
    monkeypatch.setenv("CONVO_MODEL", "nope-2")
    with pytest.raises(UnknownModelError, match=r"'nope-2' \(from \$CONVO_MODEL\)"):
        models.get_transport(models.default_model())


@pytest.mark.parametrize("name", ["gpt-4o-mini", "o4-mini", "responses:gpt-5", "local"])
def test_known_and_claimed_names_need_no_base_url(pm: PluginManager, name: str) -> None:
    pm.add(Local(), "local-plugin")
    with models.get_transport(name):
        pass


def test_aliases_resolve_and_the_factory_gets_the_name(pm: PluginManager) -> None:
    pm.add(Local(), "local-plugin")
    assert models.resolve("local") == "tiny"
    with models.get_transport("local") as transport:
        assert isinstance(transport, FunctionTransport)
        assert transport.fn(None) == "tiny"  # type: ignore[arg-type]
    assert "tiny" in models.model_names()


def test_user_aliases_override_the_plugins(pm: PluginManager, config_dir: Path) -> None:
    pm.add(Local(), "local-plugin")
    (config_dir / "models.json").write_text(
        json.dumps({"aliases": {"local": "gpt-4o", "f": "tiny"}})
    )
    assert models.resolve("local") == "gpt-4o"
    assert models.resolve("f") == "tiny"
    assert models.aliases()["f"] == "tiny"


def test_default_model_order(
    pm: PluginManager, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert models.default_model() == "gpt-4o-mini"  # nothing local installed
    pm.add(Local(), "local-plugin")
    assert models.default_model() == "tiny"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert models.default_model() == "gpt-4o-mini"  # the user pointed at a server
    (config_dir / "models.json").write_text(json.dumps({"default": "local"}))
    assert models.default_model() == "tiny"
    monkeypatch.setenv("CONVO_MODEL", "gpt-4.1")
    assert models.default_model() == "gpt-4.1"


@pytest.mark.parametrize("text", ["{not json", "[]", '{"aliases": []}'])
def test_a_bad_settings_file_is_named_in_the_error(
    pm: PluginManager, config_dir: Path, text: str
) -> None:
    (config_dir / "models.json").write_text(text)
    with pytest.raises(InputError, match=r"models\.json"):
        models.resolve("x")


@pytest.mark.parametrize("name", ["", "  ", None])
def test_an_empty_model_name_is_refused(pm: PluginManager, name: Any) -> None:
    with pytest.raises(InputError, match="model name"):
        models.resolve(name)
