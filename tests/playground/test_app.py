"""The ASGI app on its own: what it serves, under a mount too, and what it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from convo.playground import CSP, create_app


async def call(
    app: Any, path: str, method: str = "GET", root_path: str = ""
) -> tuple[int, dict[str, str], bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "root_path": root_path,
             "headers": [], "query_string": b""}  # fmt: skip
    await app(scope, receive, send)
    start, body = sent
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, body["body"]


async def test_serves_the_page_and_its_modules_with_the_csp() -> None:
    app = create_app(default_base_url="http://127.0.0.1:1/v1")
    status, headers, body = await call(app, "/")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["content-security-policy"] == CSP
    assert headers["x-content-type-options"] == "nosniff"
    assert b'src="main.js"' in body
    status, headers, _ = await call(app, "/main.js")
    assert (status, headers["content-type"]) == (200, "text/javascript; charset=utf-8")
    assert (await call(app, "/config.json"))[2] == b'{"default_base_url": "http://127.0.0.1:1/v1"}'
    assert (await call(create_app(), "/config.json"))[2] == b'{"default_base_url": null}'


@pytest.mark.parametrize("path", ["/nope.js", "/../app.py", "/static/main.js", "/__init__.py"])
async def test_only_the_static_files_are_served(path: str) -> None:
    assert (await call(create_app(), path))[0] == 404


async def test_nothing_but_get_and_head() -> None:
    app = create_app()
    assert (await call(app, "/", method="POST"))[0] == 405
    status, headers, body = await call(app, "/", method="HEAD")
    assert (status, body) == (200, b"")
    assert int(headers["content-length"]) > 0


async def test_mounted_under_a_prefix() -> None:
    app = create_app()
    status, headers, _ = await call(app, "/playground", root_path="/playground")
    assert (status, headers["location"]) == (308, "/playground/")
    status, _, body = await call(app, "/playground/", root_path="/playground")
    assert status == 200
    assert b"<title>" in body
    assert (await call(app, "/playground/sse.js", root_path="/playground"))[0] == 200


async def test_lifespan() -> None:
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    await create_app()({"type": "lifespan"}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
