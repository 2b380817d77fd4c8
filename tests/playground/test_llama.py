"""Against llama.cpp's OpenAI servers, directly: the real local model, no convo between.

Two peers: llama-cpp-python's server (``llama_server``) and llama.cpp's own C++
``llama-server`` (``llama_cpp_server``), each on the same GGUF file.
"""

from __future__ import annotations

import json
import re
import subprocess

from tests.playground.conftest import Page, screenshot
from tests.playground.test_flow import KEY, request_json, send, set_key
from tests.playground.test_snippets import LOOPBACK, snippet
from tests.support import require

expect = require("playwright.sync_api", "needs playwright").expect


def done(page: Page, timeout: float = 180_000) -> None:
    """Wait for the reply to end: Send is enabled again before a fast stream has even
    begun, so the finish reason, not the button, says the model answered."""
    response = page.get_by_role("region", name="Response")
    expect(response).to_contain_text(re.compile(r"finish_reason: \w+"), timeout=timeout)


def target(page: Page, base: str) -> str:
    # Wait for this target's own model listing (the page asks 300 ms after the field
    # changes; the status line already says "listed" from the default target's). A GET
    # /models that reaches llama_cpp.server during a stream ends that stream at once
    # with [DONE] (its interrupt_requests, on by default), leaving an empty reply.
    with page.expect_response(lambda r: r.url == f"{base}/models") as listing:
        page.get_by_label("Base URL", exact=True).fill(base)
    assert listing.value.ok
    expect(page.locator("#models-status")).to_contain_text("Models listed by the target")
    model = request_json(page)["model"]
    assert model != "gpt-4"  # replaced by what the server lists
    page.get_by_label("temperature", exact=True).fill("0")
    page.get_by_label("max_tokens", exact=True).fill("12")
    return model


def seed_flow(page: Page, base: str, shot: str | None = None) -> str:
    """The seed's flow against ``base``: key, target, send, the usage, then the generated
    cURL run against the same server gets the same (greedy) answer, and the key went to
    that server only. Returns the reply."""
    set_key(page)
    target(page, base)
    send(page, timeout=180_000)
    done(page)
    reply = page.locator("#chat .assistant .text").last.inner_text()
    assert reply.strip()
    usage = page.get_by_role("region", name="Usage")
    prompt = int(usage.locator("[data-usage=prompt_tokens]").inner_text())
    completion = int(usage.locator("[data-usage=completion_tokens]").inner_text())
    assert prompt > 0
    assert 0 < completion <= 12
    assert int(usage.locator("[data-usage=total_tokens]").inner_text()) == prompt + completion
    if shot:
        screenshot(page.page, shot)
    body = request_json(page)
    body["messages"] = body["messages"][:-1]
    page.get_by_label("Request", exact=True).fill(json.dumps(body))
    command = snippet(page, "cURL").replace("YOUR_API_KEY", KEY)
    run = subprocess.run(
        ["bash", "-c", command], capture_output=True, timeout=120, env=LOOPBACK, check=True
    )
    assert json.loads(run.stdout)["choices"][0]["message"]["content"] == reply
    keyed = {r.url.split("/v1")[0] for r in page.requests if KEY in str(r.all_headers())}
    assert keyed == {base.split("/v1")[0]}
    return reply


def test_seed_flow_against_llama_cpp(page: Page, llama_server: str) -> None:
    seed_flow(page, llama_server, shot="llama")


def test_stream_against_llama_cpp(page: Page, llama_server: str) -> None:
    target(page, llama_server)
    page.get_by_label("stream", exact=True).check()
    send(page, timeout=60_000)
    done(page, timeout=60_000)
    assert page.locator("#chat .assistant .text").last.inner_text().strip()
    assert "finish_reason: " in page.get_by_role("region", name="Response").inner_text()
    # this server sends no usage in a stream; the page says so
    expect(page.get_by_role("region", name="Usage")).to_contain_text("The server sent no usage.")


def test_seed_flow_against_llama_cpps_own_server(page: Page, llama_cpp_server: str) -> None:
    seed_flow(page, llama_cpp_server)
    # streamed: a new reply arrives as text, and its finish reason is shown
    replies = page.locator("#chat .assistant .text")
    before = replies.count()
    page.get_by_label("stream", exact=True).check()
    send(page, timeout=60_000)
    expect(replies).to_have_count(before + 1, timeout=120_000)
    done(page, timeout=120_000)
    expect(replies.last).not_to_be_empty(timeout=120_000)
