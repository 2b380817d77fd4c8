"""Each error status is explained with the seed's fix; a network or CORS failure too."""

from __future__ import annotations

import pytest

from tests.playground.conftest import Page, screenshot
from tests.playground.test_flow import request_json, send, set_key
from tests.support import ChatServer, Respond, error


@pytest.mark.parametrize(
    ("status", "explanation"),
    [
        (401, "401 Unauthorized: check that the API key is correct."),
        (429, "429 Too many requests: lower the request rate or raise your quota."),
        (500, "500 Server error: retry later."),
        (503, "503 Service unavailable: retry later."),
        (400, "HTTP 400: the server refused the request."),
    ],
)
def test_error_status_is_explained(
    page: Page, chat: ChatServer, status: int, explanation: str
) -> None:
    headers = {"retry-after": "7"} if status == 429 else {}
    chat.script(error(status, "upstream says <b>no</b>", headers=headers))
    set_key(page)
    send(page)
    alert = page.get_by_role("alert")
    text = alert.inner_text()
    assert explanation in text
    assert "upstream says <b>no</b>" in text  # the server's own message, as text
    if status == 429:
        assert "retry after 7 seconds" in text
    # nothing is appended to the conversation
    assert request_json(page)["messages"][-1]["role"] == "user"
    if status == 401:
        screenshot(page.page, "error-401")


def test_a_non_json_error_body_is_shown_as_text(page: Page, chat: ChatServer) -> None:
    chat.script(
        Respond(502, "<html><script>window.__pwned=1</script></html>", content_type="text/html")
    )
    send(page)
    assert "HTTP 502" in page.get_by_role("alert").inner_text()
    assert page.evaluate("() => window.__pwned") is None


def test_network_failure_says_what_to_do(page: Page, chat: ChatServer) -> None:
    with ChatServer(cors=False) as no_cors:  # answers, but allows no other origin
        page.get_by_label("Base URL", exact=True).fill(no_cors.url)
        send(page)
        assert "CORS" in page.get_by_role("alert").inner_text()
        assert "convo serve" in page.get_by_role("alert").inner_text()
    page.get_by_label("Base URL", exact=True).fill("http://127.0.0.1:9/v1")  # nobody listens
    send(page)
    assert "did not reach the server" in page.get_by_role("alert").inner_text()
