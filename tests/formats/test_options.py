"""The other wire formats (Anthropic Messages, OpenAI Responses) honour a request's
transport options as the Chat Completions transport does, and keep what an error page
said and how long to wait; over the local server, blocking and async."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from convo import AsyncConversation, Conversation
from convo.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InternalServerError,
    ParameterError,
    RateLimitError,
)
from convo.transports.formats import FormatTransport
from tests.formats.conftest import make
from tests.support import Answer, ChatServer, Drop, Respond, error, html_page


def conversation(t: FormatTransport, mode: str, **kw: Any) -> Any:
    cls = Conversation if mode == "sync" else AsyncConversation
    return cls("Be brief.", model="claude-test", transport=t, **kw)


async def send(conv: Any, text: str = "hi", *, stream: bool = False, **params: Any) -> str:
    if isinstance(conv, AsyncConversation):
        if stream:
            return "".join([d async for d in conv.stream(text, **params)])
        return str((await conv.send(text, **params)).text)
    if stream:
        return "".join(conv.stream(text, **params))
    return str(conv.send(text, **params).text)


def named(sent: Any, name: str) -> list[str]:
    return [v for k, v in sent.header_lines if k == name]


@pytest.mark.parametrize("stream", [False, True])
async def test_headers_and_query_of_the_conversation_and_the_call(
    transport: FormatTransport, chat_server: ChatServer, mode: str, stream: bool
) -> None:
    conv = conversation(
        transport, mode, extra_headers={"X-Team": "a", "X-Keep": "k"}, extra_query={"t": "1"}
    )
    assert await send(conv, stream=stream) == "echo: hi"
    await send(conv, stream=stream, extra_headers={"x-team": "b"}, extra_query={"p": "2"})
    first, second = chat_server.requests
    assert (named(first, "x-team"), named(first, "x-keep")) == (["a"], ["k"])
    assert (named(second, "x-team"), named(second, "x-keep")) == (["b"], ["k"])
    assert first.path.endswith("?t=1") and second.path.endswith("?t=1&p=2")
    if stream:
        assert named(second, "accept") == ["text/event-stream"]


async def test_max_retries_and_timeout_per_call(
    transport: FormatTransport, chat_server: ChatServer, mode: str, sleeps: list[float]
) -> None:
    conv = conversation(transport, mode, max_retries=0)
    chat_server.script(error(503, "busy"), Answer("never"))
    with pytest.raises(APIStatusError):
        await send(conv)
    assert len(chat_server.requests) == 1 and sleeps == []
    chat_server.reset()
    chat_server.script(error(503, "busy"), Answer("second"))
    assert await send(conv, max_retries=1) == "second"
    chat_server.reset()
    chat_server.script(Answer("late", delay=1.0))
    with pytest.raises(APITimeoutError):
        await send(conv, timeout=0.2)


async def test_an_error_page_is_quoted_and_its_wait_kept(
    transport: FormatTransport, chat_server: ChatServer, mode: str
) -> None:
    conv = conversation(transport, mode, max_retries=0)
    limited = Respond(429, "Too many requests from your IP", headers={"retry-after": "90"})
    chat_server.script(limited)
    with pytest.raises(RateLimitError) as info:
        await send(conv)
    assert "Too many requests from your IP" in str(info.value)
    assert info.value.retry_after == 90.0
    page = html_page(502)
    chat_server.script(Respond(page.status, page.body, {"retry-after": "70"}, page.content_type))
    with pytest.raises(InternalServerError) as page_info:
        await send(conv)
    assert "502 Bad Gateway" in str(page_info.value) and "nginx" in str(page_info.value)
    assert page_info.value.retry_after == 70.0


@pytest.mark.parametrize("bad", [True, -1, 1.5])
def test_max_retries_must_be_a_count(kind: str, chat_server: ChatServer, bad: object) -> None:
    with pytest.raises(ParameterError, match="max_retries"):
        make(kind, chat_server.url, max_retries=bad)


async def test_your_headers_win_whatever_their_case(chat_server: ChatServer, kind: str) -> None:
    mine = {
        "authorization": "Bearer proxy",
        "X-API-KEY": "proxy-key",
        "content-type": "application/json",
    }
    t = make(kind, chat_server.url, headers=mine)
    try:
        await send(conversation(t, "sync"))
        await send(conversation(t, "async"), stream=True)
    finally:
        await t.aclose()
    for sent in chat_server.requests:
        names = [k for k, _ in sent.header_lines]
        assert len(names) == len(set(names)), names  # one of each
        assert (sent.headers["authorization"], sent.headers["x-api-key"]) == (
            "Bearer proxy",
            "proxy-key",
        )


async def test_a_password_in_the_base_url_never_shows(
    chat_server: ChatServer, kind: str, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = chat_server.url.replace("http://", "http://user:hunter2pass@")
    t = make(kind, url, max_retries=0)
    chat_server.script(Drop())
    caplog.set_level(logging.DEBUG, logger="convo")
    try:
        assert "hunter2pass" not in repr(t) and "hunter2pass" not in t.url
        with pytest.raises(APIConnectionError) as info:
            await send(conversation(t, mode))
    finally:
        await t.aclose()
    assert "hunter2pass" not in str(info.value) and "hunter2pass" not in caplog.text
    assert chat_server.requests[0].headers["authorization"].startswith("Basic ")
