"""Plugins: packages that add transports, tools, templates and commands to convo.

A plugin is found through the ``convo`` entry-point group and implements the hooks
in :mod:`convo.plugins.hookspecs` (see ``docs/plugins.md``). The functions here use
one process-wide :class:`PluginManager`, loaded on first use.

>>> "openai" in [p.name for p in plugins()]
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from convo.plugins.hookspecs import hookimpl, hookspec
from convo.plugins.manager import GROUP, PluginInfo, PluginManager, TransportEntry

if TYPE_CHECKING:
    from convo.templates import TemplateRegistry
    from convo.tools import ToolRegistry

__all__ = [
    "GROUP",
    "PluginInfo",
    "PluginManager",
    "TransportEntry",
    "hookimpl",
    "hookspec",
    "load_plugins",
    "manager",
    "plugin_errors",
    "plugins",
    "register_commands",
    "templates",
    "tools",
]

_manager = PluginManager()


def manager() -> PluginManager:
    """The process-wide plugin manager (loaded on first use)."""
    return _manager


def load_plugins() -> None:
    """Load the built-ins and every installed plugin; later calls do nothing."""
    _manager.load()


def plugins() -> list[PluginInfo]:
    """Every plugin, with its version, hooks, what it registered, and any error."""
    return _manager.plugins()


def plugin_errors() -> dict[str, str]:
    """Plugin name → the error that stopped it (in part or whole)."""
    return _manager.errors()


def tools() -> ToolRegistry:
    """Every tool that plugins offer."""
    return _manager.tools()


def templates() -> TemplateRegistry:
    """Every template that plugins offer."""
    return _manager.templates()


def register_commands(cli: Any) -> None:
    """Let plugins add subcommands to the ``convo`` click group."""
    _manager.register_commands(cli)
