"""Every way a server can fail, mapped to its typed error, in both APIs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from convo.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    GatewayError,
    IncompleteStreamError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    StreamError,
    TransportError,
    UnprocessableEntityError,
)
from convo.streaming import RESPONSE_KEY, StreamAssembler
from convo.transports.base import Chunk
from convo.transports.openai import OpenAITransport
from tests.support import ChatServer, Drop, Events, Respond, error, html_page
from tests.transports.helpers import collect, complete, make_request


async def partial_stream(t: OpenAITransport, mode: str) -> tuple[list[Chunk], BaseException]:
    """The chunks yielded before the stream failed, and the error."""
    got: list[Chunk] = []
    with pytest.raises(TransportError) as info:
        await feed(t, mode, got.append)
    if got:  # as the server sent it: without the response info on the first chunk
        got[0] = {k: v for k, v in got[0].items() if k != RESPONSE_KEY}
    return got, info.value


async def feed(t: OpenAITransport, mode: str, sink: Callable[[Chunk], object]) -> None:
    """Stream a request into ``sink`` chunk by chunk."""
    if mode == "sync":
        for c in t.stream(make_request(stream=True)):
            sink(c)
    else:
        async for c in t.astream(make_request(stream=True)):
            sink(c)


async def send(t: OpenAITransport, mode: str, stream: bool) -> object:
    if stream:
        return await collect(t, make_request(stream=True), mode)
    return await complete(t, make_request(), mode)


def chunk(text: str, finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]}


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, InternalServerError),
        (418, APIStatusError),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_status_errors(
    transport: OpenAITransport,
    chat_server: ChatServer,
    mode: str,
    stream: bool,
    status: int,
    cls: type[APIStatusError],
) -> None:
    transport.max_retries = 0
    chat_server.script(
        error(status, f"it failed {status}", type="invalid_request_error", code="bad", param="x")
    )
    with pytest.raises(cls) as info:
        await send(transport, mode, stream)
    err = info.value
    assert type(err) is cls
    assert (err.status_code, err.message, err.type, err.code, err.param) == (
        status,
        f"it failed {status}",
        "invalid_request_error",
        "bad",
        "x",
    )
    assert err.request_id == "req_1"
    assert str(err) == f"{status}: it failed {status} (request id req_1)"
    assert err.body["error"]["message"] == f"it failed {status}"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_client_errors_are_not_retried(
    transport: OpenAITransport, chat_server: ChatServer, sleeps: list[float], mode: str, status: int
) -> None:
    chat_server.script(error(status, "no"))
    with pytest.raises(APIStatusError):
        await complete(transport, make_request(), mode)
    assert (len(chat_server.requests), sleeps) == (1, [])


@pytest.mark.parametrize(
    ("body", "message", "code"),
    [
        (
            {"error": {"code": 500, "message": "template error", "type": "server_error"}},
            "template error",
            "500",
        ),
        ({"error": "model not loaded"}, "model not loaded", None),
        ({"detail": "Not Found"}, "Not Found", None),
        ({"message": "plain"}, "plain", None),
        ({"error": {}}, "Bad Request", None),
    ],
)
async def test_error_body_shapes_of_other_servers(
    transport: OpenAITransport,
    chat_server: ChatServer,
    mode: str,
    body: Any,
    message: str,
    code: str | None,
) -> None:
    transport.max_retries = 0
    chat_server.script(Respond(400, body))
    with pytest.raises(BadRequestError) as info:
        await complete(transport, make_request(), mode)
    assert (info.value.message, info.value.code) == (message, code)


async def test_a_non_json_client_error_carries_a_snippet(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    chat_server.script(
        Respond(404, "<html><h1>404 Not Found</h1></html>", content_type="text/html")
    )
    with pytest.raises(NotFoundError, match="404 Not Found"):
        await complete(transport, make_request(), mode)


@pytest.mark.parametrize("stream", [False, True])
async def test_an_html_502_page_is_retried_then_a_gateway_error(
    transport: OpenAITransport, chat_server: ChatServer, mode: str, stream: bool
) -> None:
    chat_server.script(html_page(502), html_page(502), html_page(502))
    with pytest.raises(GatewayError) as info:
        await send(transport, mode, stream)
    err = info.value
    assert isinstance(err, ProtocolError)
    assert isinstance(err, InternalServerError)
    assert err.status_code == 502
    assert err.snippet is not None
    assert "502 Bad Gateway" in err.snippet
    assert len(err.snippet) <= 200
    assert "text/html" in str(err)
    assert len(chat_server.requests) == 3


@pytest.mark.parametrize("stream", [False, True])
async def test_wrong_content_type_is_a_protocol_error(
    transport: OpenAITransport, chat_server: ChatServer, mode: str, stream: bool
) -> None:
    chat_server.script(
        Respond(200, "<html>Welcome to the captive portal</html>", content_type="text/html")
    )
    with pytest.raises(ProtocolError, match="got text/html") as info:
        await send(transport, mode, stream)
    assert "captive portal" in (info.value.snippet or "")
    assert len(chat_server.requests) == 1


async def test_malformed_json_is_a_protocol_error(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    chat_server.script(Respond(200, b'{"choices": [', content_type="application/json"))
    with pytest.raises(ProtocolError, match="not valid JSON") as info:
        await complete(transport, make_request(), mode)
    assert info.value.snippet == '{"choices": ['


async def test_json_that_is_not_a_completion(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    chat_server.script(Respond(200, {"object": "list", "data": []}))
    with pytest.raises(ProtocolError, match="not a chat completion"):
        await complete(transport, make_request(), mode)


async def test_a_malformed_json_data_line(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    chat_server.script(Events([chunk("ok"), "data: {not json}\n\n"]))
    got, err = await partial_stream(transport, mode)
    assert type(err) is ProtocolError
    assert err.snippet == "{not json}"  # type: ignore[attr-defined]
    assert got == [chunk("ok")]


async def test_an_error_object_mid_stream(
    transport: OpenAITransport, chat_server: ChatServer, sleeps: list[float], mode: str
) -> None:
    failure = {"error": {"message": "overloaded", "type": "server_error", "code": "busy"}}
    chat_server.script(Events([chunk("par"), chunk("tial"), failure, chunk("never")]))
    got, err = await partial_stream(transport, mode)
    assert isinstance(err, StreamError)
    assert "overloaded" in str(err)
    assert (err.type, err.code) == ("server_error", "busy")
    assert got == [chunk("par"), chunk("tial")]
    assert (len(chat_server.requests), sleeps) == (1, [])


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ('event: error\ndata: {"error": {"message": "quota", "type": "rate"}}\n\n', "quota"),
        ('event: error\ndata: {"message": "bare"}\n\n', "bare"),
        ("event: error\ndata: just text\n\n", "just text"),
    ],
)
async def test_an_error_event_mid_stream(
    transport: OpenAITransport, chat_server: ChatServer, mode: str, raw: str, text: str
) -> None:
    chat_server.script(Events([chunk("a"), raw]))
    got, err = await partial_stream(transport, mode)
    assert isinstance(err, StreamError)
    assert text in str(err)
    assert got == [chunk("a")]


async def test_keep_alives_and_named_events_are_skipped(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    chat_server.script(
        Events(
            [
                ": ping\n\n",
                chunk("a"),
                "event: ping\ndata: {}\n\n",
                "data:\n\n",
                "retry: 10\n\n",
                chunk("b", "stop"),
            ]
        )
    )
    assert await collect(transport, make_request(stream=True), mode) == [
        chunk("a"),
        chunk("b", "stop"),
    ]


async def test_a_stream_without_done_or_finish_reason_is_incomplete(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    chat_server.script(Events([chunk("cut "), chunk("short")], done=False))
    assembler = StreamAssembler()
    with pytest.raises(IncompleteStreamError):  # noqa: PT012 - the transport or the assembler
        await feed(transport, mode, assembler.feed)
        assembler.finish()
    assert assembler.text == "cut short"


async def test_a_stream_without_done_but_finished_is_whole(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    chat_server.script(Events([chunk("all "), chunk("here", "stop")], done=False))
    chunks = await collect(transport, make_request(stream=True), mode)
    assembler = StreamAssembler()
    for c in chunks:
        assembler.feed(c)
    assert assembler.finish().text == "all here"


async def test_an_empty_stream_is_incomplete(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    chat_server.script(Events([], done=False))
    with pytest.raises(IncompleteStreamError):
        await collect(transport, make_request(stream=True), mode)


async def test_a_stream_ending_mid_line(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    line = json.dumps(chunk("never finished"))
    chat_server.script(Events([chunk("a"), "data: " + line[:20]], done=False))
    got, err = await partial_stream(transport, mode)
    assert isinstance(err, IncompleteStreamError)
    assert "middle of a line" in str(err)
    assert got == [chunk("a")]


async def test_events_after_done_are_ignored(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    chat_server.script(Events([chunk("a", "stop"), "data: [DONE]\n\n", chunk("late")], done=False))
    assert await collect(transport, make_request(stream=True), mode) == [chunk("a", "stop")]


@pytest.mark.parametrize("reset", [False, True])
async def test_a_connection_lost_mid_stream(
    transport: OpenAITransport, chat_server: ChatServer, sleeps: list[float], mode: str, reset: bool
) -> None:
    chat_server.script(
        Events([chunk("one "), chunk("two "), chunk("three")], disconnect_after=2, reset=reset)
    )
    got, err = await partial_stream(transport, mode)
    assert type(err) is APIConnectionError
    assert got == [chunk("one "), chunk("two ")]
    assert (len(chat_server.requests), sleeps) == (1, [])  # never replayed
    assert chat_server.wait_idle()


async def test_a_read_timeout_mid_stream(
    chat_server: ChatServer, sleeps: list[float], mode: str
) -> None:
    chat_server.script(Events([chunk("one "), chunk("two")], stall_after=1))
    async with OpenAITransport(chat_server.url, timeout=0.2) as t:
        t._sleep = sleeps.append
        got, err = await partial_stream(t, mode)
    assert type(err) is APITimeoutError
    assert "timed out" in str(err)
    assert got == [chunk("one ")]
    assert (len(chat_server.requests), sleeps) == (1, [])
    assert chat_server.wait_idle()


async def test_no_raw_httpx_error_escapes(chat_server: ChatServer, mode: str) -> None:
    chat_server.script(Drop(), Drop(reset=True), Drop())
    async with OpenAITransport(chat_server.url, max_retries=2) as t:
        t._sleep = lambda _: None

        async def nap(_: float) -> None:
            return None

        t._asleep = nap
        with pytest.raises(APIConnectionError) as info:
            await complete(t, make_request(), mode)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None
    assert not type(info.value).__module__.startswith("httpx")
