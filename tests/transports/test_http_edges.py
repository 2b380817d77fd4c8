"""What OpenAI SDK users expect of the HTTP edge, over a real local server: error pages
said in the message, retry waits kept, headers merged without case, URLs with queries
and passwords, the usage option, content parts on the wire."""

from __future__ import annotations

import logging

import pytest

from convo import Conversation
from convo.errors import (
    APIConnectionError,
    APIStatusError,
    InternalServerError,
    MessageError,
    ProtocolError,
    RateLimitError,
)
from convo.messages import AudioPart, FilePart, Message
from convo.transports.openai import OpenAITransport
from tests.support import ChatServer, Drop, Respond, error, html_page
from tests.transports.helpers import KEY, collect, complete, make_request, record_waits


async def test_a_plain_text_429_says_what_answered_and_keeps_the_wait(
    transport: OpenAITransport, chat_server: ChatServer, mode: str, sleeps: list[float]
) -> None:
    page = Respond(429, "Too many requests from your IP", headers={"retry-after": "120"})
    chat_server.script(page)
    with pytest.raises(RateLimitError) as info:
        await complete(transport, make_request(), mode)
    assert "Too many requests from your IP" in str(info.value)
    assert "text/plain" in str(info.value)
    assert info.value.retry_after == 120.0
    assert sleeps == []  # a wait past MAX_RETRY_AFTER gives up at once


async def test_an_html_502_is_quoted_in_the_message(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    chat_server.script(html_page(502), html_page(502), html_page(502))
    with pytest.raises(InternalServerError) as info:
        await complete(transport, make_request(), mode)
    assert "502 Bad Gateway" in str(info.value)  # a log line shows what answered
    assert "nginx" in str(info.value)


@pytest.mark.parametrize("header", [{"retry-after": "90"}, {"retry-after-ms": "75000"}])
async def test_retry_after_is_on_every_status_error(
    transport: OpenAITransport, chat_server: ChatServer, mode: str, header: dict[str, str]
) -> None:
    chat_server.script(error(503, "come back later", headers=header))
    with pytest.raises(APIStatusError) as info:
        await complete(transport, make_request(), mode)
    assert info.value.status_code == 503
    assert info.value.retry_after in (90.0, 75.0)
    chat_server.script(Respond(503, "maintenance", headers=header))
    with pytest.raises(APIStatusError) as info:
        await complete(transport, make_request(), mode)
    assert info.value.retry_after in (90.0, 75.0)


async def test_user_headers_win_whatever_their_case(chat_server: ChatServer, mode: str) -> None:
    t = OpenAITransport(
        chat_server.url, api_key=KEY, headers={"authorization": "Bearer proxy-token"}
    )
    try:
        await complete(t, make_request(), mode)
        await collect(t, make_request(stream=True), mode)
    finally:
        await t.aclose()
    for sent in chat_server.requests:
        sent_auth = [v for k, v in sent.header_lines if k == "authorization"]
        assert sent_auth == ["Bearer proxy-token"]  # one, the user's
    assert all(KEY not in r.headers.get("authorization", "") for r in chat_server.requests)


async def test_a_base_url_with_a_query_and_a_default_query(
    chat_server: ChatServer, mode: str
) -> None:
    t = OpenAITransport(f"{chat_server.url}?api-version=2024-10-21", default_query={"tenant": "t1"})
    try:
        reply = await complete(t, make_request("hi"), mode)
    finally:
        await t.aclose()
    assert reply.text == "echo: hi"
    assert chat_server.requests[0].path == "/v1/chat/completions?api-version=2024-10-21&tenant=t1"


async def test_a_password_in_the_base_url_never_shows(
    chat_server: ChatServer, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = chat_server.url.replace("http://", "http://user:hunter2pass@")
    t = OpenAITransport(url, max_retries=1)
    record_waits(t, [])
    chat_server.script(Drop(), Drop())
    caplog.set_level(logging.DEBUG, logger="convo")
    try:
        assert "hunter2pass" not in repr(t) and "hunter2pass" not in t.base_url
        with pytest.raises(APIConnectionError) as info:
            await complete(t, make_request(), mode)
    finally:
        await t.aclose()
    assert "hunter2pass" not in str(info.value)
    assert "hunter2pass" not in caplog.text
    assert chat_server.requests[0].headers["authorization"].startswith("Basic ")


async def test_server_text_in_any_error_is_scrubbed(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    # An invalid message echoing the key: the error is built in convo.wire, not in the
    # transport, and still carries no key.
    bad = {"choices": [{"index": 0, "message": {"role": "bot", "content": f"key {KEY}"}}]}
    chat_server.script(Respond(200, bad))
    with pytest.raises(ProtocolError) as info:
        await complete(transport, make_request(), mode)
    assert KEY not in str(info.value)
    assert KEY not in (info.value.snippet or "")


async def test_stream_usage_can_be_turned_off(chat_server: ChatServer, mode: str) -> None:
    t = OpenAITransport(chat_server.url, stream_usage=False)
    try:
        conv = Conversation(model="gpt-4o-mini", transport=t)
        assert "stream_options" not in conv.prepare("hi", stream=True).body
        "".join(conv.stream("hi"))
    finally:
        await t.aclose()
    assert "stream_options" not in chat_server.requests[0].json
    assert chat_server.requests[0].json["stream"] is True


def test_audio_and_file_parts_go_on_the_wire(chat_server: ChatServer) -> None:
    audio = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
    file = {"type": "file", "file": {"file_id": "file-abc", "filename": "a.pdf"}}
    message = Message.user([{"type": "text", "text": "what is this?"}, audio, file])
    assert isinstance(message.content[1], AudioPart)  # type: ignore[index]
    assert isinstance(message.content[2], FilePart)  # type: ignore[index]
    with OpenAITransport(chat_server.url) as t:
        Conversation(model="gpt-4o-mini", transport=t).send(message)
    assert chat_server.requests[0].json["messages"][0]["content"] == [
        {"type": "text", "text": "what is this?"},
        audio,
        file,
    ]


@pytest.mark.parametrize(
    ("part", "says"),
    [
        ({"type": "input_audio", "input_audio": {"data": "x", "format": "ogg"}}, "format"),
        ({"type": "file", "file": {"filename": "a.pdf"}}, "file_data or file_id"),
        ({"type": "image", "url": "x"}, "has type 'image'"),
        ({"type": "image_url", "image_url": {}}, "image_url.url"),
    ],
)
def test_an_invalid_part_says_what_is_wrong(part: dict[str, object], says: str) -> None:
    with pytest.raises(MessageError, match="content part 0") as info:
        Message.user([part])
    assert says in str(info.value)
    assert "valid string" not in str(info.value)
