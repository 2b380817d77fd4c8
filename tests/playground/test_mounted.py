"""Mounted under a prefix in another ASGI app (as `convo serve` mounts it at /playground)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.playground.conftest import _free_port
from tests.support import require

expect = require("playwright.sync_api", "needs playwright").expect


@pytest.fixture
def mounted() -> Iterator[str]:
    uvicorn = require("uvicorn", "needs uvicorn")
    routing = require("starlette.routing", "needs starlette")
    applications = require("starlette.applications", "needs starlette")
    from convo.playground import create_app

    app = applications.Starlette(routes=[routing.Mount("/playground", app=create_app())])
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive()
        threading.Event().wait(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_under_a_mount_the_default_base_url_is_the_servers_v1(browser: Any, mounted: str) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{mounted}/playground")  # redirected to /playground/
        page.wait_for_selector("body[data-ready=true]")
        assert page.url == f"{mounted}/playground/"
        expect(page.get_by_label("Base URL", exact=True)).to_have_value(f"{mounted}/v1")
        expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
        assert not errors
    finally:
        context.close()
