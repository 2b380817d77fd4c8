"""The end of a stream (one rule) and the metadata a reply carries, streamed or not,
over a real local server."""

from __future__ import annotations

from typing import Any

import pytest

from convo import AsyncConversation, Conversation
from convo.errors import IncompleteStreamError
from convo.reply import Reply
from convo.transports.openai import OpenAITransport
from convo.transports.sse import ServerSentEvent, SSEDecoder
from tests.support import ChatServer, Events, Respond

HEADERS = {
    "x-request-id": "req_abc",
    "x-ratelimit-remaining-requests": "499",
    "openai-processing-ms": "12",
}


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
    if "logprobs" in extra:
        choice["logprobs"] = extra.pop("logprobs")
    return {
        "id": "c1",
        "model": "m",
        "object": "chat.completion.chunk",
        "choices": [choice],
        **extra,
    }


async def stream(transport: OpenAITransport, mode: str) -> tuple[str, Reply, Any]:
    if mode == "sync":
        conv: Any = Conversation(model="gpt-4o-mini", transport=transport)
        s = conv.stream("hi")
        text = "".join(s)
    else:
        conv = AsyncConversation(model="gpt-4o-mini", transport=transport)
        s = conv.stream("hi")
        text = "".join([piece async for piece in s])
    assert s.reply is not None
    return text, s.reply, conv


async def test_done_ends_a_stream_well_without_a_finish_reason(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    chat_server.script(Events([chunk({"content": "Hel"}), chunk({"content": "lo"})], done=True))
    text, reply, conv = await stream(transport, mode)
    assert text == "Hello" and reply.finish_reason is None
    assert conv.messages[-1].text == "Hello"


async def test_no_done_and_no_finish_reason_is_incomplete(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    chat_server.script(Events([chunk({"content": "Hel"})], done=False))
    with pytest.raises(IncompleteStreamError):
        await stream(transport, mode)


async def test_an_unterminated_last_event_is_not_data(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    # The body is cut after a complete line: the event was never ended by a blank line,
    # so its finish_reason does not count and the stream is incomplete.
    last = 'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n'
    chat_server.script(Events([chunk({"content": "Hel"}), last], done=False))
    with pytest.raises(IncompleteStreamError):
        await stream(transport, mode)


def test_an_empty_read_between_cr_and_lf_does_not_split_an_event() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: a\r") == []
    assert d.feed(b"") == []  # a read that returned nothing: the CRLF is still one line end
    assert d.feed(b"\ndata: b\r\n\r\n") == [ServerSentEvent("message", "a\nb")]


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_a_streamed_reply_carries_the_metadata(
    transport: OpenAITransport, chat_server: ChatServer, mode: str, field: str
) -> None:
    token = {"token": "Hel", "logprob": -0.1, "bytes": None, "top_logprobs": []}
    token2 = {"token": "lo", "logprob": -0.2, "bytes": None, "top_logprobs": []}
    chat_server.script(
        Events(
            [
                chunk(
                    {"role": "assistant", field: "think "},
                    system_fingerprint="fp_1",
                    service_tier="default",
                ),
                chunk({field: "hard"}, system_fingerprint="fp_1"),
                chunk({"content": "Hel"}, logprobs={"content": [token]}),
                chunk({"content": "lo"}, "stop", logprobs={"content": [token2]}),
            ],
            headers=HEADERS,
        )
    )
    text, reply, conv = await stream(transport, mode)
    assert text == "Hello"
    assert reply.request_id == "req_abc"
    assert reply.system_fingerprint == "fp_1"
    assert reply.service_tier == "default"
    assert reply.reasoning == "think hard"
    assert reply.choice.logprobs == {"content": [token, token2]}
    assert reply.headers is not None
    assert reply.headers["x-ratelimit-remaining-requests"] == "499"
    # Chat Completions reasoning never enters the history.
    assert "think hard" not in repr(conv.messages[-1])
    assert conv.messages[-1].reasoning_items is None


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_a_plain_reply_carries_the_same_metadata(
    transport: OpenAITransport, chat_server: ChatServer, mode: str, field: str
) -> None:
    body = {
        "id": "c1",
        "object": "chat.completion",
        "model": "m",
        "system_fingerprint": "fp_2",
        "service_tier": "flex",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi", field: "because"},
                "finish_reason": "stop",
                "logprobs": {"content": []},
            }
        ],
    }
    chat_server.script(Respond(200, body, headers=HEADERS))
    conv: Any = (Conversation if mode == "sync" else AsyncConversation)(
        model="gpt-4o-mini", transport=transport
    )
    reply = conv.send("hi") if mode == "sync" else await conv.send("hi")
    assert (reply.request_id, reply.system_fingerprint, reply.service_tier) == (
        "req_abc",
        "fp_2",
        "flex",
    )
    assert reply.reasoning == "because"
    assert reply.choice.logprobs == {"content": []}
    assert reply.headers["openai-processing-ms"] == "12"
    assert "x-ratelimit" not in repr(reply)  # headers are reachable, not printed


async def test_a_json_answer_to_a_stream_keeps_the_metadata(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    # A server that ignores "stream": true answers one completion; it is replayed as
    # chunks, and what it said about itself survives the replay.
    body = {
        "id": "c1",
        "object": "chat.completion",
        "model": "m",
        "system_fingerprint": "fp_3",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi", "reasoning": "short"},
                "finish_reason": "stop",
                "logprobs": {"content": [{"token": "Hi", "logprob": 0.0}]},
            }
        ],
    }
    chat_server.script(Respond(200, body, headers=HEADERS))
    text, reply, _ = await stream(transport, mode)
    assert text == "Hi"
    assert (reply.request_id, reply.system_fingerprint, reply.reasoning) == (
        "req_abc",
        "fp_3",
        "short",
    )
    assert reply.choice.logprobs == {"content": [{"token": "Hi", "logprob": 0.0}]}
    assert reply.headers is not None and reply.headers["openai-processing-ms"] == "12"
