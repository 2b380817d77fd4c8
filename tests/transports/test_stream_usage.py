"""``stream_options.include_usage`` is a capability of the HTTP transport: asked for by
default, dropped for good (on that transport) the first time the server refuses it,
that request retried once without it. Over a real local server configured to refuse
the field as Azure, OpenAI's proxies, vLLM and Mistral do."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from convo import AsyncConversation, Conversation
from convo.errors import BadRequestError, UnprocessableEntityError
from convo.transports.openai import OpenAITransport
from tests.support import ChatServer, error, refusal
from tests.support.chatserver import REFUSALS
from tests.transports.helpers import collect, make_request, record_waits


@pytest.fixture(params=REFUSALS)
def refusing(request: pytest.FixtureRequest) -> Iterator[ChatServer]:
    """A server that does not know ``stream_options``, saying so as ``request.param`` does."""
    with ChatServer(refuse={"stream_options": refusal("stream_options", request.param)}) as s:
        yield s


async def stream_text(t: OpenAITransport, mode: str, **params: Any) -> str:
    if mode == "sync":
        return "".join(Conversation(model="gpt-4o-mini", transport=t).stream("hi", **params))
    conv = AsyncConversation(model="gpt-4o-mini", transport=t)
    return "".join([piece async for piece in conv.stream("hi", **params)])


async def stream_reply(t: OpenAITransport, mode: str) -> Any:
    if mode == "sync":
        s: Any = Conversation(model="gpt-4o-mini", transport=t).stream("hi")
        "".join(s)
    else:
        s = AsyncConversation(model="gpt-4o-mini", transport=t).stream("hi")
        "".join([piece async for piece in s])
    return s.reply


def asked_usage(server: ChatServer) -> list[bool]:
    return ["stream_options" in r.json for r in server.requests]


async def test_a_refused_option_is_dropped_and_the_request_retried_once(
    refusing: ChatServer, mode: str
) -> None:
    sleeps: list[float] = []
    t = OpenAITransport(refusing.url, max_retries=0)  # the retry is not one of max_retries
    record_waits(t, sleeps)
    try:
        assert t.stream_usage is True
        assert await stream_text(t, mode) == "echo: hi"
        assert asked_usage(refusing) == [True, False]
        assert t.stream_usage is False  # learned, on this transport
        assert all(s == 0 for s in sleeps)  # retried at once: nothing to wait for
        reply = await stream_reply(t, mode)
        assert reply.text == "echo: hi" and reply.usage is None  # the server sent none
        assert asked_usage(refusing) == [True, False, False]  # no second refusal
        conv = Conversation(model="gpt-4o-mini", transport=t)
        assert "stream_options" not in conv.prepare("hi", stream=True).body
        # A request built before (or elsewhere) is sent without it too.
        await collect(t, make_request(stream=True), mode)
        assert asked_usage(refusing)[-1] is False
    finally:
        await t.aclose()


async def test_another_transport_still_asks(refusing: ChatServer, mode: str) -> None:
    first, second = OpenAITransport(refusing.url), OpenAITransport(refusing.url)
    try:
        await stream_text(first, mode)
        assert (first.stream_usage, second.stream_usage) == (False, True)
        await stream_text(second, mode)
    finally:
        await first.aclose()
        await second.aclose()
    assert asked_usage(refusing) == [True, False, True, False]


async def test_the_retry_without_it_happens_once(chat_server: ChatServer, mode: str) -> None:
    # A server that still complains about stream_options after it was dropped: its
    # error is raised, not retried again.
    says = "Unrecognized request argument supplied: stream_options"
    chat_server.script(error(400, says), error(400, says))
    t = OpenAITransport(chat_server.url)
    try:
        with pytest.raises(BadRequestError, match="stream_options"):
            await stream_text(t, mode)
    finally:
        await t.aclose()
    assert asked_usage(chat_server) == [True, False]


async def test_other_bad_requests_keep_the_option(chat_server: ChatServer, mode: str) -> None:
    chat_server.script(error(400, "temperature is too high", param="temperature"))
    chat_server.script(error(422, "Unprocessable"))
    t = OpenAITransport(chat_server.url)
    try:
        with pytest.raises(BadRequestError):
            await stream_text(t, mode)
        with pytest.raises(UnprocessableEntityError):
            await stream_text(t, mode)
        assert t.stream_usage is True
    finally:
        await t.aclose()
    assert asked_usage(chat_server) == [True, True]


async def test_stream_options_of_your_own_are_not_dropped(refusing: ChatServer, mode: str) -> None:
    # What convo adds is convo's to drop; options you asked for are yours to change.
    t = OpenAITransport(refusing.url)
    own = {"include_usage": True, "continuous_usage_stats": True}
    try:
        with pytest.raises(BadRequestError if refusing.refuse["stream_options"].status == 400
                           else UnprocessableEntityError):  # fmt: skip
            await stream_text(t, mode, stream_options=own)
        assert t.stream_usage is True
    finally:
        await t.aclose()
    assert [r.json["stream_options"] for r in refusing.requests] == [own]


def test_threads_sharing_a_transport_all_get_their_reply() -> None:
    server = ChatServer(refuse={"stream_options": refusal("stream_options")})
    with server, OpenAITransport(server.url) as t:
        start = threading.Barrier(8)
        texts: list[str] = []

        def run() -> None:
            start.wait()
            texts.append("".join(Conversation(model="gpt-4o-mini", transport=t).stream("hi")))

        threads = [threading.Thread(target=run) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert texts == ["echo: hi"] * 8
        assert t.stream_usage is False
        refused = asked_usage(server).count(True)
        assert 1 <= refused <= 8  # each request at most once, however they interleave
        assert asked_usage(server).count(False) == 8
