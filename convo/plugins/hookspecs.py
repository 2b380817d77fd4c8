"""The hooks a convo plugin may implement, under pluggy's project name ``convo``.

A plugin is a module (or any object) with functions marked :data:`hookimpl`, found
through the ``convo`` entry-point group::

    # pyproject.toml of the plugin
    [project.entry-points.convo]
    myplugin = "convo_myplugin"

    # convo_myplugin/__init__.py
    from convo.plugins import hookimpl

    @hookimpl
    def register_tools(register):
        register(shout)

Each hook receives a ``register`` callable; what a plugin registers is credited to it
(``convo plugins`` lists it), and one plugin failing does not stop the others.
"""

from __future__ import annotations

from typing import Any

import pluggy

__all__ = [
    "hookimpl",
    "hookspec",
    "register_commands",
    "register_mcp_servers",
    "register_templates",
    "register_tools",
    "register_transports",
]

hookspec = pluggy.HookspecMarker("convo")
hookimpl = pluggy.HookimplMarker("convo")


@hookspec
def register_transports(register: Any) -> None:
    """Serve model names with a transport factory.

    ``register(name, factory, *, aliases=(), prefixes=())``: ``factory(model_name)``
    returns a new :class:`~convo.Transport`. ``prefixes`` claim every name that starts
    with one of them (``"gguf:"`` claims ``"gguf:/models/x.gguf"``).
    """


@hookspec
def register_tools(register: Any) -> None:
    """Offer tools: ``register(tool)`` with a :class:`~convo.Tool` or a plain function."""


@hookspec
def register_templates(register: Any) -> None:
    """Offer named templates: ``register(name, template_or_source)``."""


@hookspec
def register_mcp_servers(register: Any) -> None:
    """Offer MCP servers: ``register(name, server, *, prefix=None)``, ``server`` a command
    line (``"python -m my_server"``) or an ``http(s)://`` URL. Nothing starts at load
    time: ``convo.mcp.plugin_server(name)`` gives a toolset, ``convo chat --mcp NAME``
    uses it."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add subcommands to the ``convo`` command line; ``cli`` is its click group."""
