"""The MCP servers of one command: ``--mcp`` values, ``models.json``'s ``"mcp"`` list and
the servers plugins offer by name. The command line calls :func:`enter`.

``models.json``::

    {"mcp": ["python files_server.py", {"server": "http://127.0.0.1:8000/mcp", "prefix": "docs"}]}
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from convo.errors import InputError
from convo.mcp import McpToolset, parse, plugin_server

__all__ = ["configured", "enter", "toolsets"]


def configured() -> list[McpToolset]:
    """The toolsets of ``models.json``'s ``"mcp"`` list (not started)."""
    from convo.models import config_path, setting

    value = setting("mcp") or []
    if not isinstance(value, list):
        raise InputError(f"{config_path()}: 'mcp' must be a list of servers")
    out = []
    for item in value:
        if isinstance(item, str):
            out.append(parse(item))
        elif isinstance(item, dict) and isinstance(item.get("server"), str):
            out.append(parse(item["server"], prefix=item.get("prefix")))
        else:
            raise InputError(
                f"{config_path()}: an 'mcp' entry is a command line, a URL, or "
                f'{{"server": ..., "prefix": ...}}; got {item!r}'
            )
    return out


def toolsets(specs: Sequence[str], *, config: bool = True) -> list[McpToolset]:
    """One toolset per ``--mcp`` value (a plugin's server name, a URL or a command
    line), after the configured ones; none is started."""
    from convo.plugins import manager

    named = manager().mcp_servers()
    found = configured() if config else []
    for spec in specs:
        found.append(plugin_server(spec) if spec in named else parse(spec))
    return found


def enter(stack: contextlib.ExitStack, specs: Sequence[str]) -> list[Any]:
    """Start the command's toolsets, each closed with ``stack``."""
    return [stack.enter_context(t) for t in toolsets(specs)]
