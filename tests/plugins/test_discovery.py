"""A third-party plugin, installed by pip from its own pyproject.toml, found by its entry point."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from convo import FunctionTransport, Message, Request, models
from convo.plugins import PluginManager


@pytest.fixture
def pm(with_fake_plugin: Path, fresh_manager: PluginManager, config_dir: Path) -> PluginManager:
    return fresh_manager


def test_entry_points_are_discovered_with_their_versions(pm: PluginManager) -> None:
    infos = {i.name: i for i in pm.plugins()}
    fake = infos["fake"]
    assert fake.version == "1.2.3"
    assert fake.error is None
    assert fake.hooks == (
        "register_commands",
        "register_templates",
        "register_tools",
        "register_transports",
    )
    assert fake.models == ("fake-echo",)
    assert fake.tools == ("shout",)
    assert fake.templates == ("fake-pirate",)
    assert infos["openai"].error is None


def test_a_broken_entry_point_is_reported_and_does_not_stop_the_others(pm: PluginManager) -> None:
    errors = pm.errors()
    assert "fake-broken" in errors
    assert "convo_fake_plugin_missing_dependency" in errors["fake-broken"]
    assert "fake" not in errors
    broken = next(i for i in pm.plugins() if i.name == "fake-broken")
    assert broken.version == "1.2.3"
    assert broken.hooks == ()


def test_the_plugin_transport_serves_its_name_alias_and_prefix(pm: PluginManager) -> None:
    request = Request("x", (Message.user("abc"),), {})
    for model, served in [
        ("fake-echo", "fake-echo"),
        ("echo", "fake-echo"),
        ("fake:zz", "fake:zz"),
    ]:
        with models.get_transport(model) as transport:
            assert isinstance(transport, FunctionTransport)
            assert transport.complete(request).text == "x: cba"
        assert models.resolve(model) == served
    assert "fake-echo" in models.model_names()


def test_the_plugin_tool_is_in_the_tool_registry(pm: PluginManager) -> None:
    shout = pm.tools().get("shout")
    assert shout is not None
    assert shout.name == "shout"
    assert shout("hey") == "HEY!"


def test_the_plugin_template_is_in_the_template_registry(pm: PluginManager) -> None:
    registry = pm.templates()
    assert "fake-pirate" in registry.names()
    assert registry.get("fake-pirate") is not None


def test_the_plugin_command_joins_the_cli(pm: PluginManager) -> None:
    @click.group()
    def cli() -> None:
        pass

    pm.register_commands(cli)
    result = CliRunner().invoke(cli, ["fake-hello", "Ada"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello Ada from the fake plugin\n"
