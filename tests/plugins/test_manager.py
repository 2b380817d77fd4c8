"""The plugin manager: hooks called per plugin, credits, conflicts, isolation of failures."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from convo import FunctionTransport, PluginError
from convo.plugins import PluginManager, hookimpl
from convo.plugins.builtin import openai_transport


def _echo(model: str) -> FunctionTransport:
    return FunctionTransport(lambda request: model)


class Models:
    def __init__(self, name: str, **kw: Any) -> None:
        self.name, self.kw = name, kw

    @hookimpl
    def register_transports(self, register: Any) -> None:
        register(self.name, _echo, **self.kw)


class Raises:
    @hookimpl
    def register_transports(self, register: Any) -> None:
        register("half", _echo)
        raise RuntimeError("boom")


def bare() -> PluginManager:
    return PluginManager(entry_points=False, builtins=())


def test_builtin_openai_registers_through_the_hook_and_claims_every_name() -> None:
    pm = PluginManager(entry_points=False)
    infos = {i.name: i for i in pm.plugins()}
    info = infos["openai"]
    assert infos["serve"].hooks == ("register_commands",)  # `convo serve`, built in too
    assert info.hooks == ("register_transports",)
    assert "gpt-4o-mini" in info.models
    entry = pm.resolve("some-model-nobody-registered")
    assert entry is not None
    assert entry.plugin == "openai"
    assert entry.factory is openai_transport


def test_exact_name_then_alias_then_longest_prefix() -> None:
    pm = bare()
    pm.add(Models("a", prefixes=("x",)), "p1")
    pm.add(Models("b", aliases=("bee",), prefixes=("xy",)), "p2")
    assert pm.resolve("a").name == "a"  # type: ignore[union-attr]
    assert pm.resolve("bee").name == "b"  # type: ignore[union-attr]
    assert pm.resolve("xyz").name == "b"  # type: ignore[union-attr]
    assert pm.resolve("xaz").name == "a"  # type: ignore[union-attr]
    assert pm.resolve("zzz") is None
    assert pm.model_names() == ["a", "b"]
    assert pm.aliases() == {"bee": "b"}


def test_a_raising_hook_is_reported_by_name_and_others_still_load(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pm = bare()
    with caplog.at_level(logging.WARNING, logger="convo.plugins"):
        pm.add(Raises(), "bad")
        pm.add(Models("good"), "good")
    errors = pm.errors()
    assert list(errors) == ["bad"]
    assert "register_transports failed: RuntimeError: boom" in errors["bad"]
    assert "'bad'" in caplog.text
    assert pm.resolve("good") is not None
    # What the plugin registered before it raised stays, credited to it.
    infos = {i.name: i for i in pm.plugins()}
    assert infos["bad"].models == ("half",)
    assert infos["bad"].error == errors["bad"]
    assert infos["good"].error is None


def test_a_plugin_that_cannot_be_imported_is_reported() -> None:
    pm = PluginManager(entry_points=False, builtins=[("ghost", "convo_no_such_module_xyz")])
    [info] = pm.plugins()
    assert info.name == "ghost"
    assert info.hooks == ()
    assert info.error is not None
    assert "ModuleNotFoundError" in info.error
    assert "convo_no_such_module_xyz" in info.error


def test_a_name_taken_by_an_earlier_plugin_is_kept_and_the_conflict_reported() -> None:
    pm = bare()
    pm.add(Models("m", aliases=("shared",)), "first")
    pm.add(Models("m"), "second")
    pm.add(Models("n", aliases=("shared",)), "third")
    assert pm.resolve("m").plugin == "first"  # type: ignore[union-attr]
    assert pm.resolve("shared").name == "m"  # type: ignore[union-attr]
    errors = pm.errors()
    assert "'first'" in errors["second"]
    assert "shared" in errors["third"]
    assert set(errors) == {"second", "third"}


def test_bad_registrations_are_refused_with_the_plugin_name() -> None:
    class Bad:
        @hookimpl
        def register_transports(self, register: Any) -> None:
            register("", _echo)

    class NotCallable:
        @hookimpl
        def register_transports(self, register: Any) -> None:
            register("x", "not a factory")

    pm = bare()
    pm.add(Bad(), "bad")
    pm.add(NotCallable(), "nc")
    assert "non-empty string" in pm.errors()["bad"]
    assert "not callable" in pm.errors()["nc"]
    assert pm.model_names() == []


def test_a_hook_with_a_wrong_signature_fails_to_register() -> None:
    class Wrong:
        @hookimpl
        def register_transports(self, register: Any, unknown: Any) -> None:
            raise AssertionError("never called")

    pm = bare()
    pm.add(Wrong(), "wrong")
    assert "could not be loaded" in pm.errors()["wrong"]


def test_two_plugins_with_one_name_are_not_both_registered() -> None:
    pm = bare()
    pm.add(Models("a"), "same")
    pm.add(Models("b"), "same")
    assert pm.model_names() == ["a"]
    assert "already named" in pm.errors()["same"]


def test_load_runs_once() -> None:
    calls = []

    class Counting:
        @hookimpl
        def register_transports(self, register: Any) -> None:
            calls.append(1)

    pm = bare()
    pm.add(Counting(), "c")
    pm.load()
    pm.load()
    assert pm.plugins()[0].name == "c"
    assert calls == [1]


def test_register_commands_gets_the_group_and_is_isolated() -> None:
    seen = []

    class Commands:
        @hookimpl
        def register_commands(self, cli: Any) -> None:
            seen.append(cli)

    class Broken:
        @hookimpl
        def register_commands(self, cli: Any) -> None:
            raise PluginError("no")

    pm = bare()
    pm.add(Broken(), "broken")
    pm.add(Commands(), "commands")
    group = object()
    pm.register_commands(group)
    assert seen == [group]
    assert "register_commands failed" in pm.errors()["broken"]
