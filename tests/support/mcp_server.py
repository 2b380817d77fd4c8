"""A real MCP server for the tests, written with the official SDK (``MCPServer``,
formerly FastMCP): several tools, one that fails, one that is slow, one that kills the
server mid-call, and a prompt.

    python tests/support/mcp_server.py stdio          # over stdin/stdout
    python tests/support/mcp_server.py http PORT      # streamable HTTP on 127.0.0.1

Sessions are counted: over HTTP by the ``mcp-session-id`` the server hands out
(``GET /stats``); over stdio one process is one session, and each process appends a
line to the file named by ``MCP_TEST_LOG`` when it starts.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

server = MCPServer("convo-test", instructions="Tools for convo's tests.")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return text


@server.tool()
def fail(reason: str) -> str:
    """Always fails, with the reason given."""
    raise ValueError(reason)


@server.tool()
async def slow(seconds: float) -> str:
    """Answer after some seconds."""
    await anyio.sleep(seconds)
    return f"slept {seconds}"


@server.tool()
def crash() -> str:
    """Kill the server in the middle of the call."""
    os._exit(3)


@server.tool(annotations=ToolAnnotations(read_only_hint=False, idempotent_hint=False))
def pay(amount: int) -> str:
    """Pay an amount (a side effect that must not happen twice)."""
    return f"paid {amount}"


@server.prompt()
def review(code: str, language: str) -> str:
    """Ask for a code review."""
    return f"Review this {language} code and list its bugs:\n{code}"


def _http(port: int) -> None:
    import uvicorn
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    sessions: set[str] = set()

    @server.custom_route("/stats", methods=["GET"])
    async def stats(request: Request) -> JSONResponse:
        return JSONResponse({"sessions": sorted(sessions)})

    app = server.streamable_http_app()

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                for key, value in message.get("headers", []):
                    if key.lower() == b"mcp-session-id":
                        sessions.add(value.decode())
            await send(message)

        await app(scope, receive, sending)

    uvicorn.run(counting, host="127.0.0.1", port=port, log_level="warning", lifespan="on")


if __name__ == "__main__":
    if log := os.environ.get("MCP_TEST_LOG"):
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\n")
    if sys.argv[1] == "stdio":
        server.run("stdio")
    else:
        _http(int(sys.argv[2]))
