"""convo's own view, in a real Chromium against a real `convo serve` (upstream: the local
test server): the page at ``/playground/`` lists, opens, continues, forks, deletes and
stores conversations, and meters tokens against the model's window. Every assertion on
state is on what the server stored, read back with the official SDK.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from convo.budget import context_window
from tests.playground.conftest import Page, Served, open_page, screenshot
from tests.support import ChatServer, require

expect = require("playwright.sync_api", "needs playwright").expect
openai = require("openai", "needs openai")


class Server:
    """A `convo serve` on 127.0.0.1 and an SDK client for it."""

    def __init__(self, url: str, upstream: ChatServer) -> None:
        self.url = url
        self.upstream = upstream
        self.client = openai.OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0)

    def listed(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.client.get("/conversations", cast_to=object)["data"]
        return data

    def texts(self, cid: str) -> list[tuple[str, str]]:
        items = self.client.conversations.items.list(cid, order="asc", limit=100).data
        return [(i.role, "".join(p.text for p in i.content)) for i in items]


@pytest.fixture
def server(chat: ChatServer, tmp_path: Path) -> Iterator[Server]:
    from convo.serve import ServeConfig, create_app
    from convo.transports.openai import OpenAITransport
    from tests.serve.conftest import Uvicorn

    chat.reset()
    config = ServeConfig(
        db=f"sqlite:///{tmp_path / 'serve.db'}",
        transport_for=lambda model: OpenAITransport(chat.url, api_key="up", max_retries=0),
    )
    running = Uvicorn(create_app(config)).start()
    served = Server(f"http://127.0.0.1:{running.port}", chat)
    try:
        yield served
    finally:
        served.client.close()
        running.stop()


@pytest.fixture
def view(browser: Any, server: Server) -> Iterator[Page]:
    page = open_page(browser, Served(f"{server.url}/playground/"))
    expect(page.get_by_label("model", exact=True)).not_to_have_value("gpt-4")
    yield page
    page.page.context.close()
    assert not page.blocked, page.blocked
    assert not page.errors, page.errors


def send(page: Page, text: str) -> None:
    page.get_by_label("Next message", exact=True).fill(text)
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_enabled()
    expect(page.locator("#finish")).to_be_visible()


def posts(page: Page) -> list[Any]:
    return [r for r in page.requests if r.method == "POST" and r.url.endswith("/chat/completions")]


def open_stored(page: Page, name: str, cid: str) -> None:
    """Open a listed conversation and wait until the page holds it: until then the chat
    shows the page's own default messages, whose buttons a test must not click."""
    refresh(page).get_by_role("button", name=f"Open {name}").click()
    expect(page.locator("#current-conversation")).to_contain_text(f"conversation {cid}:")


def refresh(page: Page) -> Any:
    region = page.get_by_role("region", name="Conversations")
    region.get_by_role("button", name="Refresh", exact=True).click()
    expect(page.locator("#conversations-status")).to_contain_text("stored conversations")
    return region


def test_open_continue_and_the_token_meter(view: Page, server: Server) -> None:
    server.client.chat.completions.create(
        model="m",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "plan a trip"},
        ],
        extra_headers={"X-Convo-Conversation": "trip"},
    )
    region = refresh(view)
    region.get_by_role("button", name="Open plan a trip").click()
    chat = view.locator("#chat")
    expect(chat.locator("[data-role=assistant]")).to_have_text("assistantecho: plan a trip")
    expect(view.locator("#current-conversation")).to_contain_text("Continuing")
    expect(chat.locator("[data-role=system]")).to_have_count(0)  # items do not show it
    send(view, "and the budget?")

    sent = posts(view)[-1]
    assert sent.headers["x-convo-conversation"] == "trip"
    assert json.loads(sent.post_data)["messages"] == [
        {"role": "user", "content": "and the budget?"}
    ]
    assert server.texts("trip") == [
        ("user", "plan a trip"),
        ("assistant", "echo: plan a trip"),
        ("user", "and the budget?"),
        ("assistant", "echo: and the budget?"),
    ]
    # the server sent the stored history upstream, system prompt first
    upstream = [m["content"] for m in server.upstream.requests[-1].json["messages"]]
    assert upstream[0] == "Be brief." and upstream[-1] == "and the budget?"

    usage = view.get_by_role("region", name="Usage")
    used = sum(int(usage.locator(f"[data-usage={k}]").inner_text()) for k in
               ("prompt_tokens", "completion_tokens"))  # fmt: skip
    model = json.loads(sent.post_data)["model"]
    window = context_window(model)
    meter = usage.get_by_label("Token meter")
    assert meter.get_attribute("value") == str(used)
    assert meter.get_attribute("max") == str(window)
    pct = round(used / window * 100)
    expect(usage.locator("[data-meter]")).to_have_text(
        f"{used} of {window} tokens ({pct}%) of the model's window"
    )
    screenshot(view.page, "conversation")


def test_edit_forks_a_new_stored_conversation_and_branches_keep_theirs(
    view: Page, server: Server
) -> None:
    server.client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "first"}],
        extra_headers={"X-Convo-Conversation": "orig"},
    )  # fmt: skip
    open_stored(view, "first", "orig")
    view.locator("#chat [data-role=user]").get_by_role("button", name="Edit").click()
    send(view, "changed")
    forks = [c["id"] for c in server.listed() if c["id"] != "orig"]
    assert len(forks) == 1
    assert server.texts(forks[0]) == [("user", "changed"), ("assistant", "echo: changed")]
    assert server.texts("orig") == [("user", "first"), ("assistant", "echo: first")]

    view.get_by_role("button", name="Previous branch").click()
    send(view, "second")
    assert server.texts("orig")[-2:] == [("user", "second"), ("assistant", "echo: second")]
    view.get_by_role("button", name="Next branch").click()
    send(view, "again")
    assert server.texts(forks[0])[-1] == ("assistant", "echo: again")
    assert len(server.texts(forks[0])) == 4


def test_an_edit_forks_on_the_server_and_the_branches_survive_a_reload(
    view: Page, server: Server
) -> None:
    for text in ("first", "more"):
        server.client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": text}],
            extra_headers={"X-Convo-Conversation": "orig"},
        )  # fmt: skip
    before = server.client.conversations.items.list("orig", order="asc").data
    open_stored(view, "first", "orig")
    expect(view.locator("#chat [data-role=user]")).to_have_count(2)
    view.locator("#chat [data-role=user]").nth(1).get_by_role("button", name="Edit").click()
    expect(view.locator("#branches")).to_contain_text("Branch 2 of 2")
    (made,) = [r for r in view.requests if r.method == "POST" and r.url.endswith("/fork")]
    assert made.url.endswith("/v1/conversations/orig/fork")
    assert json.loads(made.post_data) == {"at": before[2].id}  # the edited message's item
    send(view, "other")

    (fork,) = [c["id"] for c in server.listed() if c["id"] != "orig"]
    assert server.client.get(f"/conversations/{fork}", cast_to=object)["forked_from"] == "orig"
    assert server.texts(fork) == [
        ("user", "first"), ("assistant", "echo: first"),
        ("user", "other"), ("assistant", "echo: other"),
    ]  # fmt: skip
    shared = server.client.conversations.items.list(fork, order="asc").data[:2]
    assert [i.id for i in shared] == [i.id for i in before[:2]]  # shared, not copied
    assert json.loads(posts(view)[-1].post_data)["messages"] == [
        {"role": "user", "content": "other"}
    ]  # only the new message: the fork already holds the rest
    assert len(server.texts("orig")) == 4

    # A reload forgets the page's branches; the server's list brings them back.
    view.page.reload()
    view.page.wait_for_selector("body[data-ready=true]")
    region = refresh(view)
    region.locator(f"li[data-id={fork}]").get_by_role("button", name="Open").click()
    chat = view.locator("#chat")
    expect(view.locator("#branches")).to_contain_text("Branch 2 of 2")
    expect(chat.locator("[data-role=user]").nth(1)).to_contain_text("other")
    view.get_by_role("button", name="Previous branch").click()
    expect(view.locator("#branches")).to_contain_text("Branch 1 of 2")
    expect(chat.locator("[data-role=user]").nth(1)).to_contain_text("more")
    expect(view.locator("#current-conversation")).to_contain_text("orig")
    send(view, "third")
    assert server.texts("orig")[-2:] == [("user", "third"), ("assistant", "echo: third")]
    view.get_by_role("button", name="Next branch").click()
    expect(chat.locator("[data-role=user]").nth(1)).to_contain_text("other")
    expect(view.locator("#current-conversation")).to_contain_text(fork)
    assert len(server.texts(fork)) == 4
    screenshot(view.page, "server-branches")


def test_store_search_and_delete(view: Page, server: Server) -> None:
    view.get_by_role("button", name="Store on server").click()
    expect(view.locator("#current-conversation")).to_contain_text("next request stores")
    send(view, "remember the llamas")
    (mine,) = server.listed()
    assert server.texts(mine["id"])[-2:] == [
        ("user", "remember the llamas"),
        ("assistant", "echo: remember the llamas"),
    ]
    xss = '<img src=x onerror="document.body.dataset.pwned=1">'
    server.client.conversations.create(items=[{"type": "message", "role": "user", "content": xss}])
    region = refresh(view)
    expect(region.locator("li.stored")).to_have_count(2)
    expect(region.get_by_text(xss)).to_be_visible()  # a preview is text, never HTML
    assert view.evaluate("document.body.dataset.pwned") is None
    view.get_by_label("Search conversations").fill("llamas")
    region = refresh(view)
    expect(region.locator("li.stored")).to_have_count(1)
    region.get_by_role("button", name="Delete").click()
    expect(region.locator("li.stored")).to_have_count(0)
    with pytest.raises(openai.NotFoundError):
        server.client.conversations.retrieve(mine["id"])
    assert len(server.listed()) == 1


def test_a_target_without_conversations_says_so(page: Page) -> None:
    refresh_button = page.get_by_role("region", name="Conversations").get_by_role(
        "button", name="Refresh", exact=True
    )
    refresh_button.click()
    expect(page.locator("#conversations-status")).to_contain_text("convo serve does")
    expect(page.locator("#meter")).to_be_empty()
