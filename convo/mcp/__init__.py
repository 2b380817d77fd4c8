"""MCP servers as toolsets, through the official ``mcp`` SDK (``pip install convo[mcp]``).

>>> import sys
>>> tools = stdio(sys.executable, ["server.py"], prefix="files")
>>> tools
McpToolset('files: ... server.py', new, tools=[])

Use a toolset as a context manager: entering starts one session (one server process
for stdio) and lists its tools once; every call of every conversation that uses it goes
through that session; leaving closes it. See ``docs/tools.md``.
"""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Mapping, Sequence
from typing import IO, Any

from convo.errors import McpError
from convo.mcp.toolset import McpToolset
from convo.tools.registry import MAX_RESULT_TOKENS

__all__ = ["McpError", "McpToolset", "http", "parse", "plugin_server", "stdio"]


def _sdk() -> None:
    try:
        import mcp  # noqa: F401
    except ImportError:
        raise McpError("MCP servers need the official SDK: pip install 'convo[mcp]'") from None


def stdio(
    command: str,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    *,
    prefix: str | None = None,
    cwd: str | None = None,
    timeout: float | None = None,
    start_timeout: float = 30.0,
    max_result_tokens: int = MAX_RESULT_TOKENS,
) -> McpToolset:
    """A toolset for the MCP server that ``command args...`` runs (over stdin/stdout).

    ``env`` is added to a minimal environment (the SDK's default: ``PATH``, ``HOME``
    and the like, not your secrets). ``timeout`` bounds each call; without it the
    conversation's ``tool_timeout`` does. The server's stderr is kept, and quoted in
    the error if it fails at start.
    """
    _sdk()
    argv = [str(a) for a in args]
    extra = dict(env or {})

    async def connect(stack: contextlib.AsyncExitStack[Any], errlog: IO[str]) -> Any:
        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client

        params = StdioServerParameters(command=command, args=argv, env=extra or None, cwd=cwd)
        return await stack.enter_async_context(stdio_client(params, errlog=errlog))  # type: ignore[arg-type]

    label = shlex.join([command, *argv])
    return McpToolset(
        connect,
        label=f"{prefix}: {label}" if prefix else label,
        prefix=prefix,
        timeout=timeout,
        start_timeout=start_timeout,
        max_result_tokens=max_result_tokens,
    )


def http(
    url: str,
    headers: Mapping[str, str] | None = None,
    *,
    prefix: str | None = None,
    timeout: float | None = None,
    start_timeout: float = 30.0,
    max_result_tokens: int = MAX_RESULT_TOKENS,
) -> McpToolset:
    """A toolset for the MCP server at ``url`` (streamable HTTP). ``headers`` (an
    ``Authorization``, say) go with every request and appear in no repr or error."""
    _sdk()
    sent = dict(headers or {})

    async def connect(stack: contextlib.AsyncExitStack[Any], errlog: IO[str]) -> Any:
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        client = await stack.enter_async_context(
            httpx2.AsyncClient(headers=sent, timeout=httpx2.Timeout(30.0, read=None))
        )
        read, write = await stack.enter_async_context(
            streamable_http_client(url, http_client=client)
        )
        return read, write

    return McpToolset(
        connect,
        label=f"{prefix}: {url}" if prefix else url,
        prefix=prefix,
        timeout=timeout,
        start_timeout=start_timeout,
        max_result_tokens=max_result_tokens,
    )


def parse(spec: str, *, prefix: str | None = None, **options: Any) -> McpToolset:
    """A toolset from one command-line or configuration value: an ``http(s)://`` URL,
    or a command line (``"python server.py --flag"``, split as a shell would).

    >>> parse("python server.py -v").label
    'python server.py -v'
    """
    if spec.startswith(("http://", "https://")):
        return http(spec, prefix=prefix, **options)
    argv = shlex.split(spec)
    if not argv:
        raise McpError("an MCP server is a command line or an http(s):// URL, not empty text")
    return stdio(argv[0], argv[1:], prefix=prefix, **options)


def plugin_server(name: str, **options: Any) -> McpToolset:
    """A toolset for the MCP server a plugin registered as ``name`` (not started)."""
    from convo.plugins import manager

    servers = manager().mcp_servers()
    if name not in servers:
        known = ", ".join(servers) or "none"
        raise McpError(f"no plugin offers an MCP server named {name!r} (offered: {known})")
    spec, prefix = servers[name]
    return parse(spec, prefix=prefix, **options)
