"""Fixtures for the CLI tests: an isolated store and config, the fake plugin, a runner.

In-process tests drive ``convo.cli.cli`` with click's ``CliRunner`` against a fresh
plugin manager that has discovered the real installed fake plugin. End-to-end tests
run the installed ``convo`` console script in a subprocess (see :func:`convo_cmd`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import convo.plugins
from convo import SQLStore
from convo.cli import cli
from convo.plugins import PluginManager
from tests.support import ChatServer
from tests.support.fake_plugin import fake_plugin_site, with_fake_plugin

__all__ = ["fake_plugin_site", "with_fake_plugin"]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'convo.db'}"


@pytest.fixture
def store(db_url: str) -> Iterator[SQLStore]:
    with SQLStore(db_url) as s:
        yield s


@pytest.fixture
def isolated(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """This test's own store and (empty) user config; returns the store URL."""
    monkeypatch.setenv("CONVO_DB", db_url)
    monkeypatch.setenv("CONVO_CONFIG_DIR", str(tmp_path / "config"))
    return db_url


@pytest.fixture
def fresh_manager(with_fake_plugin: Path, monkeypatch: pytest.MonkeyPatch) -> PluginManager:
    """A new process-wide plugin manager that will discover the installed fake plugin."""
    pm = PluginManager()
    monkeypatch.setattr(convo.plugins, "_manager", pm)
    return pm


class Convo:
    """Runs ``convo`` in-process; every result is checked for the exit code asked."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, code: int = 0) -> Result:
        result = self.runner.invoke(cli, list(args), input=input, catch_exceptions=False)
        assert result.exit_code == code, (result.stdout, result.stderr)
        return result


@pytest.fixture
def run(isolated: str, fresh_manager: PluginManager) -> Convo:
    """``run("ask", "-m", "echo", "hi")``: the CLI with the fake plugin and a private store."""
    return Convo()


@pytest.fixture
def server() -> Iterator[ChatServer]:
    with ChatServer() as s:
        yield s


@pytest.fixture
def subprocess_env(tmp_path: Path, db_url: str) -> dict[str, str]:
    """The environment of a ``convo`` subprocess: its own store and (empty) config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CONVO_"))}
    env.update(
        CONVO_DB=db_url,
        CONVO_CONFIG_DIR=str(tmp_path / "config"),
        NO_PROXY="*",
        XDG_DATA_HOME=str(tmp_path / "data"),
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def plugin_env(subprocess_env: dict[str, str], fake_plugin_site: Path) -> dict[str, str]:
    """:func:`subprocess_env` with the installed fake plugin on ``PYTHONPATH`` (after a
    ``PYTHONPATH`` already set, e.g. to test a source tree that is not the installed one)."""
    paths = [p for p in (subprocess_env.get("PYTHONPATH"), str(fake_plugin_site)) if p]
    return {**subprocess_env, "PYTHONPATH": os.pathsep.join(paths)}
