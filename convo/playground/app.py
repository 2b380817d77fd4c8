"""A small ASGI app: the playground's static files, with strict security headers.

Nothing here reads a request body or an ``Authorization`` header; the page talks to
the chosen API itself. The only dynamic answer is ``config.json`` (the default base
URL), so the page script needs no inline configuration.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Awaitable, Callable, MutableMapping
from importlib import resources
from typing import Any

__all__ = ["CSP", "create_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# connect-src is open on purpose: the user picks any OpenAI-compatible base URL.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src *; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".png": "image/png"}


def _static() -> dict[str, bytes]:
    # Read once per app: the files are part of the installed package and never change.
    root = resources.files("convo.playground") / "static"
    return {f"/{p.name}": p.read_bytes() for p in root.iterdir() if p.is_file()}


def _headers(content_type: str, length: int) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", content_type.encode()),
        (b"content-length", str(length).encode()),
        (b"content-security-policy", CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"cache-control", b"no-cache"),
    ]


def create_app(*, default_base_url: str | None = None) -> ASGIApp:
    """The playground as an ASGI app; mount it anywhere (``/`` serves the page).

    ``default_base_url`` pre-fills the Base URL field; without it the page uses its
    own origin's ``/v1`` (right when it is mounted under ``convo serve``).

    >>> app = create_app(default_base_url="http://127.0.0.1:8080/v1")
    >>> callable(app)
    True
    """
    files = _static()
    config = json.dumps({"default_base_url": default_base_url}).encode()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        # Mounted (Starlette's Mount sets root_path), the path still holds the prefix.
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if path == "" and root:
            # Mounted at /playground, the page must load as /playground/ for its
            # relative URLs (main.js, config.json) to resolve under the mount.
            location = (root + "/").encode("latin-1")
            await send(
                {"type": "http.response.start", "status": 308,
                 "headers": [*_headers("text/plain", 0), (b"location", location)]}
            )  # fmt: skip
            await send({"type": "http.response.body", "body": b""})
            return
        if path in ("", "/"):
            path = "/index.html"
        if scope["method"] not in ("GET", "HEAD"):
            status, body, kind = 405, b"method not allowed", "text/plain; charset=utf-8"
        elif path == "/config.json":
            status, body, kind = 200, config, "application/json"
        elif path in files:
            suffix = path[path.rfind(".") :]
            kind = _TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"
            status, body = 200, files[path]
            if kind.startswith("text/"):
                kind += "; charset=utf-8"
        else:
            status, body, kind = 404, b"not found", "text/plain; charset=utf-8"
        await send(
            {"type": "http.response.start", "status": status, "headers": _headers(kind, len(body))}
        )
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )

    return app
