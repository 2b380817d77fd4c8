"""The seed's flow in a real Chromium: base URL, key, editor, send, stream, usage."""

from __future__ import annotations

import json
import threading
from typing import Any

from tests.playground.conftest import Page, Served, screenshot
from tests.support import Answer, ChatServer, Events, Recorded, require

expect = require("playwright.sync_api", "needs playwright").expect

KEY = "sk-playground-secret-0123456789"


def last_post(server: ChatServer) -> Recorded:
    """The last request the page sent (a key change also lists the models, with a GET)."""
    return next(r for r in reversed(server.requests) if r.method == "POST")


def request_json(page: Page) -> Any:
    return json.loads(page.get_by_label("Request", exact=True).input_value())


def set_key(page: Page, key: str = KEY) -> None:
    page.get_by_label("API key", exact=True).fill(key)


def send(page: Page, timeout: float = 10_000) -> None:
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_enabled(timeout=timeout)


def test_seed_flow_multi_turn_with_usage(page: Page, chat: ChatServer) -> None:
    assert page.get_by_label("Base URL", exact=True).input_value() == chat.url
    # the seed's example, its gpt-4 replaced by the model the target lists
    expect(page.get_by_label("model", exact=True)).to_have_value("chatserver")
    body = request_json(page)
    assert body["model"] == "chatserver"
    assert body["messages"][1] == {"role": "user", "content": "Hello!"}
    assert body["temperature"] == 0.7
    assert body["max_tokens"] == 150
    set_key(page)
    screenshot(page.page, "start")
    send(page)
    response = page.get_by_role("region", name="Response")
    assert "echo: Hello!" in response.inner_text()
    assert "finish_reason: stop" in response.inner_text()
    page.get_by_text("Raw response").click()
    raw = json.loads(page.locator("#raw").text_content() or "")
    assert raw["choices"][0]["message"]["content"] == "echo: Hello!"
    usage = page.get_by_role("region", name="Usage")
    assert usage.locator("[data-usage=prompt_tokens]").inner_text() == "6"  # words in the prompt
    assert usage.locator("[data-usage=completion_tokens]").inner_text() == "2"
    assert usage.locator("[data-usage=total_tokens]").inner_text() == "8"
    sent = last_post(chat)
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.json == {**body, "model": "chatserver"}

    # multi-turn: the reply is appended, the next user message typed below it
    page.get_by_label("Next message", exact=True).fill("What's my name?")
    send(page)
    assert [m["role"] for m in last_post(chat).json["messages"]] == [
        "system", "user", "assistant", "user",
    ]  # fmt: skip
    assert last_post(chat).json["messages"][2] == {"role": "assistant", "content": "echo: Hello!"}
    assert "echo: What's my name?" in response.inner_text()
    assert [m["role"] for m in request_json(page)["messages"]][-1] == "assistant"
    screenshot(page.page, "reply")


def test_stream_shows_text_as_it_arrives_and_usage(page: Page, chat: ChatServer) -> None:
    release = threading.Event()
    set_key(page)
    page.get_by_label("stream", exact=True).check()
    assert request_json(page)["stream"] is True
    chunk = {"id": "c1", "object": "chat.completion.chunk", "model": "chatserver"}
    chat.script(
        Events(
            [
                {
                    **chunk,
                    "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}],
                },
                {**chunk, "choices": [{"index": 0, "delta": {"content": "lo"}}]},
                {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
                {
                    **chunk,
                    "choices": [],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
                },
            ],
            hold_after=1,
            hold=release,
        )
    )
    page.get_by_role("button", name="Send", exact=True).click()
    pending = page.locator("#chat .pending .text")
    expect(pending).to_have_text("Hel")  # the first delta; the server holds the rest
    release.set()
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_enabled()
    response = page.get_by_role("region", name="Response")
    assert "Hello" in response.locator("#chat .assistant").last.inner_text()
    assert "finish_reason: stop" in response.inner_text()
    usage = page.get_by_role("region", name="Usage")
    assert usage.locator("[data-usage=total_tokens]").inner_text() == "5"
    assert request_json(page)["messages"][-1] == {"role": "assistant", "content": "Hello"}


def test_stop_aborts_a_stream(page: Page, chat: ChatServer) -> None:
    page.get_by_label("stream", exact=True).check()
    chunk = {"id": "c1", "object": "chat.completion.chunk", "model": "chatserver"}
    chat.script(
        Events(
            [{**chunk, "choices": [{"index": 0, "delta": {"content": "partial"}}]}], stall_after=1
        )
    )
    page.get_by_role("button", name="Send", exact=True).click()
    page.locator("#chat .pending .text").filter(has_text="partial").wait_for()
    page.get_by_role("button", name="Stop", exact=True).click()
    alert = page.get_by_role("alert")
    alert.filter(has_text="Stopped").wait_for()
    assert chat.wait_idle(5)  # the browser hung up
    # nothing of the aborted reply joins the conversation
    assert request_json(page)["messages"][-1] == {"role": "user", "content": "Hello!"}


def test_n_choices_and_tool_calls_are_shown(page: Page, chat: ChatServer) -> None:
    page.get_by_label("n", exact=True).fill("2")
    send(page)
    choices = page.locator("#chat .choice")
    assert choices.count() == 2
    assert "echo: Hello! #1" in choices.nth(1).inner_text()
    chat.script(Answer(tool_calls=[("get_weather", {"city": "Paris"})]))
    page.get_by_label("n", exact=True).fill("")
    page.get_by_label("Next message", exact=True).fill("Weather?")
    send(page)
    call = page.locator("#chat .tool-call").last
    assert "get_weather" in call.inner_text()
    assert json.loads(call.locator("pre").inner_text()) == {"city": "Paris"}
    assert "finish_reason: tool_calls" in page.get_by_role("region", name="Response").inner_text()


def test_form_and_json_stay_in_sync_and_errors_point_at_the_field(page: Page) -> None:
    page.get_by_label("temperature", exact=True).fill("0.2")
    assert request_json(page)["temperature"] == 0.2
    page.get_by_label("stop", exact=True).fill('["END", "STOP"]')
    assert request_json(page)["stop"] == ["END", "STOP"]
    editor = page.get_by_label("Request", exact=True)
    body = request_json(page)
    editor.fill(json.dumps({**body, "temperature": 3, "top_p": "high"}))
    problems = page.locator("#request-problems")
    assert "temperature: must be between 0 and 2" in problems.inner_text()
    assert "top_p: must be number" in problems.inner_text()
    assert page.get_by_label("temperature", exact=True).get_attribute("aria-invalid") == "true"
    assert page.get_by_label("temperature", exact=True).input_value() == "3"
    editor.fill(json.dumps({**body, "messages": [{"role": "robot", "content": "x"}]}))
    assert "messages[0].role" in problems.inner_text()
    editor.fill("{not json")
    assert "Not valid JSON" in problems.inner_text()
    page.get_by_role("button", name="Send", exact=True).click()
    assert "Fix the request first" in page.get_by_role("alert").inner_text()
    editor.fill(json.dumps(body))
    assert problems.inner_text() == "The request is valid."
    assert page.get_by_label("temperature", exact=True).get_attribute("aria-invalid") == "false"


def test_messages_edited_by_role(page: Page, chat: ChatServer) -> None:
    page.get_by_label("Role", exact=True).select_option("developer")
    page.get_by_role("button", name="Add message").click()
    page.get_by_label("Content 3", exact=True).fill("Answer briefly.")
    page.get_by_label("Role 1", exact=True).select_option("developer")
    messages = request_json(page)["messages"]
    assert messages[0]["role"] == "developer"
    assert messages[2] == {"role": "developer", "content": "Answer briefly."}
    page.get_by_label("Role", exact=True).select_option("tool")
    page.get_by_role("button", name="Add message").click()
    assert "messages[3].tool_call_id" in page.locator("#request-problems").inner_text()
    page.get_by_label("tool_call_id 4", exact=True).fill("call_1")
    page.get_by_label("Content 4", exact=True).fill("42")
    assert request_json(page)["messages"][3] == {
        "role": "tool",
        "content": "42",
        "tool_call_id": "call_1",
    }
    page.get_by_role("button", name="Remove 4").click()
    page.get_by_role("button", name="Remove 3").click()
    send(page)
    assert last_post(chat).json["messages"][0]["role"] == "developer"


def test_edit_forks_and_branches_switch(page: Page, chat: ChatServer) -> None:
    send(page)
    page.get_by_role("button", name="Edit", exact=True).first.click()
    assert page.get_by_label("Next message", exact=True).input_value() == "Hello!"
    page.get_by_label("Next message", exact=True).fill("Bonjour!")
    send(page)
    assert last_post(chat).json["messages"][-1] == {"role": "user", "content": "Bonjour!"}
    chat_box = page.locator("#chat")
    assert "echo: Bonjour!" in chat_box.inner_text()
    assert "echo: Hello!" not in chat_box.inner_text()
    page.get_by_role("button", name="Previous branch").click()
    assert "echo: Hello!" in chat_box.inner_text()
    assert "Bonjour" not in chat_box.inner_text()
    page.get_by_role("button", name="Next branch").click()
    assert "echo: Bonjour!" in chat_box.inner_text()
    screenshot(page.page, "branches")


def test_served_with_csp_and_no_inline_script(page: Page, served: Served) -> None:
    first = served.requests[0]
    assert first["path"] == "/"
    headers = page.page.request.get(served.url).headers
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert page.locator("script:not([src])").count() == 0
