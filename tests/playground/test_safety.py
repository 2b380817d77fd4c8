"""The key stays in the browser and goes only to the target; model output never runs."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.playground.conftest import Page, Served, screenshot
from tests.playground.test_flow import KEY, last_post, send, set_key
from tests.support import Answer, ChatServer, Events, require

expect = require("playwright.sync_api", "needs playwright").expect

XSS = [
    "<script>window.__pwned = 1</script>",
    '<img src=x onerror="window.__pwned = 2">',
    '<svg onload="window.__pwned = 3"></svg><a href="javascript:window.__pwned=4">x</a>',
]


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def test_the_key_reaches_only_the_target(page: Page, chat: ChatServer, served: Served) -> None:
    set_key(page)
    send(page)
    page.get_by_label("stream", exact=True).check()
    page.get_by_label("Next message", exact=True).fill("again")
    send(page)
    # the browser's network log: the key only in the Authorization header, only to the target
    with_key = [r for r in page.requests if KEY in str(r.all_headers())]
    assert {origin(r.url) for r in with_key} == {origin(chat.url)}
    assert all(r.all_headers()["authorization"] == f"Bearer {KEY}" for r in with_key)
    assert not any(KEY in r.url for r in page.requests)
    assert not any(KEY in (r.post_data or "") for r in page.requests)
    assert not any(r.headers.get("referer") for r in with_key)
    # and on the page's own server: nothing of the key, ever
    assert served.requests
    for seen in served.requests:
        assert KEY not in str(seen)
        assert "authorization" not in seen["headers"]
    # the page says so, as the seed does
    assert (
        "never uploaded to a server" in page.get_by_text("kept only in this browser").inner_text()
    )

    # kept in this browser: a reload finds it, "Forget key" removes it
    page.reload()
    expect(page.get_by_label("API key", exact=True)).to_have_value(KEY)
    page.get_by_role("button", name="Forget key").click()
    expect(page.get_by_label("API key", exact=True)).to_have_value("")
    assert page.evaluate("() => JSON.stringify(localStorage)").find(KEY) == -1
    page.reload()
    expect(page.get_by_label("API key", exact=True)).to_have_value("")


def test_a_target_on_another_origin_never_sees_the_page_server_and_vice_versa(
    page: Page, chat: ChatServer, served: Served
) -> None:
    set_key(page)
    with ChatServer(cors=True) as other:
        page.get_by_label("Base URL", exact=True).fill(other.url)
        expect(page.locator("#models-status")).to_have_text("Models listed by the target: 1.")
        send(page)
        assert last_post(other).headers["authorization"] == f"Bearer {KEY}"
    assert not any("authorization" in r.headers for r in chat.requests)
    assert all("authorization" not in r["headers"] for r in served.requests)


@pytest.mark.parametrize("stream", [False, True])
def test_model_output_is_inert(page: Page, chat: ChatServer, stream: bool) -> None:
    payload = " ".join(XSS)
    if stream:
        page.get_by_label("stream", exact=True).check()
        chunk = {"id": "x", "object": "chat.completion.chunk", "model": "m"}
        chat.script(
            Events(
                [{**chunk, "choices": [{"index": 0, "delta": {"content": p + " "}}]} for p in XSS]
            )
        )
    else:
        chat.script(Answer(payload, tool_calls=[("<img src=x onerror=alert(1)>", {"a": XSS[1]})]))
    send(page)
    reply = page.locator("#chat .assistant").last
    assert XSS[0] in reply.inner_text()
    assert XSS[1] in reply.inner_text()
    assert page.locator("#chat img, #chat script, #chat svg, #chat a").count() == 0
    assert page.evaluate("() => window.__pwned") is None
    if not stream:
        screenshot(page.page, "xss")


def test_csp_blocks_what_it_must(page: Page) -> None:
    # an inline script injected by some other bug would not run either
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.__inline = 1'; document.body.append(s); }"
    )
    assert page.evaluate("() => window.__inline") is None
    page.errors.clear()  # the CSP report of that blocked script is expected
