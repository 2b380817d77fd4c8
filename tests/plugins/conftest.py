"""Fixtures for the plugin tests: a real install of the fake plugin, a fresh manager."""

from __future__ import annotations

from pathlib import Path

import pytest

import convo.plugins
from convo.plugins import PluginManager
from tests.support.fake_plugin import fake_plugin_site, with_fake_plugin

__all__ = ["fake_plugin_site", "with_fake_plugin"]


@pytest.fixture
def fresh_manager(monkeypatch: pytest.MonkeyPatch) -> PluginManager:
    """Replace the process-wide manager with a new one that has not loaded yet."""
    pm = PluginManager()
    monkeypatch.setattr(convo.plugins, "_manager", pm)
    return pm


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty user config directory."""
    monkeypatch.setenv("CONVO_CONFIG_DIR", str(tmp_path))
    return tmp_path
