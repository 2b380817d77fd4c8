"""The code for what you built: the generated cURL and Python, run, get the same answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.playground.conftest import Page, screenshot
from tests.playground.test_flow import KEY, last_post, request_json, send, set_key
from tests.support import ChatServer, require

expect = require("playwright.sync_api", "needs playwright").expect

LOOPBACK = {**os.environ, "NO_PROXY": "*", "no_proxy": "*"}


def snippet(page: Page, tab: str) -> str:
    page.get_by_role("tab", name=tab, exact=True).click()
    panel = page.get_by_role("tabpanel", name=tab, exact=True)
    expect(panel).to_be_visible()
    return panel.inner_text()


def test_curl_snippet_gets_the_same_answer(page: Page, chat: ChatServer) -> None:
    set_key(page)
    page.get_by_label("Next message", exact=True).fill("it's a 'quoted' \"test\"")
    send(page)
    answer = page.locator("#chat .assistant").last.inner_text()
    page.get_by_label("Next message", exact=True).fill("second")
    # the snippet is for the request as it stands now: the conversation so far
    curl = snippet(page, "cURL")
    assert "YOUR_API_KEY" in curl
    assert KEY not in curl
    screenshot(page.page, "curl")
    # run the snippet for the first request: the one the page sent
    body = request_json(page)
    body["messages"] = body["messages"][:-1]  # drop the reply, as it was before sending
    page.get_by_label("Request", exact=True).fill(json.dumps(body))
    curl = snippet(page, "cURL")
    command = curl.replace("YOUR_API_KEY", KEY)
    run = subprocess.run(
        ["bash", "-c", command], capture_output=True, timeout=30, env=LOOPBACK, check=True
    )
    reply = json.loads(run.stdout)
    assert reply["choices"][0]["message"]["content"] in answer
    assert last_post(chat).headers["authorization"] == f"Bearer {KEY}"
    assert last_post(chat).json == body


@pytest.mark.parametrize("stream", [False, True])
def test_python_snippet_runs_with_the_openai_sdk(
    page: Page, chat: ChatServer, stream: bool
) -> None:
    require("openai", "needs the openai SDK")
    if stream:
        page.get_by_label("stream", exact=True).check()
    page.get_by_label("stop", exact=True).fill('["END"]')
    send(page)
    answer = page.locator("#chat .assistant").last.inner_text()
    body = request_json(page)
    body["messages"] = body["messages"][:-1]
    page.get_by_label("Request", exact=True).fill(json.dumps(body))
    code = snippet(page, "Python")
    assert 'api_key="YOUR_API_KEY"' in code
    assert f'base_url="{chat.url}"' in code
    run = subprocess.run(
        [sys.executable, "-c", code.replace("YOUR_API_KEY", KEY)],
        capture_output=True, text=True, timeout=60, env=LOOPBACK, check=True,
    )  # fmt: skip
    assert run.stdout.strip() in answer
    assert run.stdout.strip().startswith("echo: Hello!")
    assert last_post(chat).json["stop"] == ["END"]


def test_tabs_work_by_keyboard(page: Page) -> None:
    python = page.get_by_role("tab", name="Python", exact=True)
    python.focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="cURL", exact=True)).to_be_focused()
    expect(page.get_by_role("tab", name="cURL", exact=True)).to_have_attribute(
        "aria-selected", "true"
    )
    expect(page.get_by_role("tabpanel", name="cURL", exact=True)).to_be_visible()
