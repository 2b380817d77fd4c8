"""Browser fixtures: one headless Chromium (Debian's) for these tests, a fresh context per test.

The playground is served by uvicorn on 127.0.0.1, the local test server (with CORS,
as a browser needs) is the default target. Every request the page makes is logged;
any request off loopback is aborted and fails the test. ``CONVO_SCREENSHOTS=1``
saves the screenshots docs/playground.md shows.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support import ChatServer, require
from tests.support.llama_cpp_server import llama_cpp_server  # noqa: F401  (a fixture)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).parents[2] / "docs" / "playground"


@dataclass
class Served:
    """The playground server: its URL and every request that reached it."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def chat() -> Iterator[ChatServer]:
    with ChatServer(cors=True) as server:
        yield server


@pytest.fixture(scope="session")
def served(chat: ChatServer) -> Iterator[Served]:
    uvicorn = require("uvicorn", "needs uvicorn")
    from convo.playground import create_app

    inner = create_app(default_base_url=chat.url)
    port = _free_port()
    record = Served(f"http://127.0.0.1:{port}/")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            body = b""
            while True:  # the page never posts here; a body would be recorded and asserted on
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            query = scope["query_string"].decode()
            record.requests.append(
                {"method": scope["method"], "path": scope["path"], "query": query,
                 "headers": headers, "body": body}
            )  # fmt: skip

            async def replay() -> Any:
                return {"type": "http.request", "body": body, "more_body": False}

            return await inner(scope, replay, send)
        return await inner(scope, receive, send)

    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the playground server did not start")
        threading.Event().wait(0.02)
    yield record
    server.should_exit = True
    thread.join(10)


# Package scope: Playwright's sync API keeps an event loop running in this thread while it
# is open, which would break every later test that calls asyncio.run().
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    sync_api = require("playwright.sync_api", "needs playwright")
    if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Page:
    """A test's page and what it did on the network."""

    page: Any
    requests: list[Any]
    blocked: list[str]
    errors: list[str]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.page, name)


def _local(url: str) -> bool:
    host = urlsplit(url).hostname
    return url.startswith(("data:", "blob:", "about:")) or host in ("127.0.0.1", "localhost")


def open_page(browser: Any, served: Served, *, locale: str = "en-US", width: int = 1280) -> Page:
    context = browser.new_context(locale=locale, viewport={"width": width, "height": 900})
    page = context.new_page()
    result = Page(page, [], [], [])

    def guard(route: Any) -> None:
        if _local(route.request.url):
            route.continue_()
        else:
            result.blocked.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    page.on("request", lambda request: result.requests.append(request))
    page.on("pageerror", lambda exc: result.errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            result.errors.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    page.goto(served.url)
    page.wait_for_selector("body[data-ready=true]")
    return result


@pytest.fixture
def page(browser: Any, served: Served, chat: ChatServer) -> Iterator[Page]:
    chat.reset()
    result = open_page(browser, served)
    yield result
    result.page.context.close()
    assert not result.blocked, f"the page tried to leave loopback: {result.blocked}"
    assert not result.errors, f"errors in the page: {result.errors}"


def screenshot(page: Any, name: str) -> None:
    """Save a screenshot for docs/playground.md when CONVO_SCREENSHOTS=1."""
    if os.environ.get("CONVO_SCREENSHOTS") == "1":
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
