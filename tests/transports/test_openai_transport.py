"""OpenAITransport against a real local server: replies, streams, the wire, clients."""

from __future__ import annotations

import asyncio
import contextlib
import json

import httpx2
import pytest

from convo.errors import ParameterError
from convo.messages import Message
from convo.request import Request
from convo.streaming import StreamAssembler
from convo.transports.openai import DEFAULT_BASE_URL, OpenAITransport
from tests.support import Answer, ChatServer, Events, Respond
from tests.transports.helpers import KEY, collect, complete, make_request


def assemble(chunks: list[dict]) -> object:
    assembler = StreamAssembler()
    for chunk in chunks:
        assembler.feed(chunk)
    return assembler.finish()


async def test_complete(transport: OpenAITransport, chat_server: ChatServer, mode: str) -> None:
    reply = await complete(transport, make_request("hello there"), mode)
    assert reply.text == "echo: hello there"
    assert reply.finish_reason == "stop"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (4, 3)
    assert reply.request_id == "req_1"
    assert reply.model == "test-model"
    sent = chat_server.requests[0]
    assert (sent.method, sent.path) == ("POST", "/v1/chat/completions")
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["accept"] == "application/json"


async def test_stream(transport: OpenAITransport, chat_server: ChatServer, mode: str) -> None:
    chunks = await collect(transport, make_request("one two three", stream=True), mode)
    reply = assemble(chunks)
    assert reply.text == "echo: one two three"  # type: ignore[attr-defined]
    assert reply.usage.total_tokens == 9  # type: ignore[attr-defined]
    assert len(chunks) > 4  # really streamed, piece by piece
    sent = chat_server.requests[0]
    assert sent.json["stream"] is True
    assert sent.json["stream_options"] == {"include_usage": True}
    assert sent.headers["accept"] == "text/event-stream"


async def test_stream_adds_stream_true_when_the_body_lacks_it(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    request = make_request("hi")  # built for a plain reply
    assert "stream" not in request.body
    assert assemble(await collect(transport, request, mode)).text == "echo: hi"  # type: ignore[attr-defined]
    assert chat_server.requests[0].json["stream"] is True
    assert "stream" not in request.body  # the caller's request is not changed


async def test_n_choices(transport: OpenAITransport, mode: str) -> None:
    reply = await complete(transport, make_request("hi", n=3), mode)
    assert [c.message.text for c in reply.choices] == ["echo: hi", "echo: hi #1", "echo: hi #2"]
    streamed = assemble(await collect(transport, make_request("hi", stream=True, n=2), mode))
    assert [c.message.text for c in streamed.choices] == ["echo: hi", "echo: hi #1"]  # type: ignore[attr-defined]


SEED_PARAMS = {
    "temperature": 0.7,
    "max_tokens": 50,
    "top_p": 0.9,
    "n": 2,
    "stop": ["\n\n", "END"],
    "presence_penalty": 0.5,
    "frequency_penalty": -0.5,
    "user": "user-42",
}
EXTRAS = {
    "seed": 7,
    "logprobs": False,
    "response_format": {"type": "json_object"},
    "max_completion_tokens": 60,
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "tool_choice": "auto",
    "top_k": 40,  # vendor extras
    "repetition_penalty": 1.1,
    "chat_template_kwargs": {"enable_thinking": False},
}


@pytest.mark.parametrize("stream", [False, True])
async def test_every_parameter_reaches_the_wire_unchanged(
    transport: OpenAITransport, chat_server: ChatServer, mode: str, stream: bool
) -> None:
    request = make_request("héllo 漢字 😀 \u2028", stream=stream, **SEED_PARAMS, **EXTRAS)
    if stream:
        await collect(transport, request, mode)
    else:
        await complete(transport, request, mode)
    sent = chat_server.requests[0]
    assert sent.json == request.body
    for name, value in {**SEED_PARAMS, **EXTRAS}.items():
        assert sent.json[name] == value, name
    assert sent.json["model"] == "test-model"
    assert sent.json["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "héllo 漢字 😀 \u2028"},
    ]
    assert sent.json.get("stream", False) is stream
    # Encoded once, compactly, as UTF-8 (not \u escapes).
    assert sent.body == json.dumps(request.body, ensure_ascii=False, separators=(",", ":")).encode()


async def test_stream_false_reaches_the_wire(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    request = make_request("x")
    request.body["stream"] = False
    await complete(transport, request, mode)
    assert chat_server.requests[0].json["stream"] is False


async def test_custom_headers_reach_the_wire(chat_server: ChatServer, mode: str) -> None:
    async with OpenAITransport(chat_server.url, headers={"X-Team": "blue"}) as t:
        await complete(t, make_request(), mode)
    sent = chat_server.requests[0]
    assert sent.headers["x-team"] == "blue"
    assert "authorization" not in sent.headers  # no key, no header: local servers need none


async def test_scripted_tool_calls(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    answer = Answer(tool_calls=[("get_weather", {"city": "Paris"}), ("get_time", {"tz": "CET"})])
    chat_server.script(answer, answer)
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    reply = await complete(transport, make_request("weather?", tools=tools), mode)
    streamed = assemble(
        await collect(transport, make_request("weather?", stream=True, tools=tools), mode)
    )
    for r in (reply, streamed):
        calls = r.message.tool_calls  # type: ignore[attr-defined]
        assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
            ("get_weather", {"city": "Paris"}),
            ("get_time", {"tz": "CET"}),
        ]
        assert r.finish_reason == "tool_calls"  # type: ignore[attr-defined]
    assert chat_server.requests[0].json["tools"] == tools


async def test_a_server_that_ignores_stream_is_replayed_as_chunks(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    completion = {
        "id": "c1",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "whole"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    chat_server.script(Respond(200, completion))
    reply = assemble(await collect(transport, make_request(stream=True), mode))
    assert reply.text == "whole"  # type: ignore[attr-defined]
    assert reply.usage.total_tokens == 2  # type: ignore[attr-defined]


async def test_a_server_that_streams_a_plain_request_is_assembled(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    chunk = {"choices": [{"index": 0, "delta": {"content": "streamed"}, "finish_reason": "stop"}]}
    chat_server.script(Events([chunk]))
    reply = await complete(transport, make_request(), mode)
    assert (reply.text, reply.request_id) == ("streamed", "req_1")


async def test_connections_are_kept_alive(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    for _ in range(3):
        await complete(transport, make_request(), mode)
        await collect(transport, make_request(stream=True), mode)
    assert len(chat_server.requests) == 6
    assert chat_server.total_connections == 1


def test_breaking_out_of_a_stream_closes_the_response(
    transport: OpenAITransport, chat_server: ChatServer
) -> None:
    words = " ".join(f"w{i}" for i in range(50))
    stream = transport.stream(make_request(words, stream=True))
    assert next(stream)["choices"][0]["delta"]["role"] == "assistant"
    assert chat_server.open_connections == 1
    stream.close()
    assert chat_server.wait_idle()
    # The transport still works, on a new connection.
    assert transport.complete(make_request("again")).text == "echo: again"


async def test_closing_an_async_stream_early_closes_the_response(
    transport: OpenAITransport, chat_server: ChatServer
) -> None:
    words = " ".join(f"w{i}" for i in range(50))
    async with contextlib.aclosing(transport.astream(make_request(words, stream=True))) as stream:
        async for _ in stream:
            break
    assert chat_server.wait_idle()
    assert (await transport.acomplete(make_request("again"))).text == "echo: again"


def test_an_injected_client_is_used_and_left_open(chat_server: ChatServer) -> None:
    seen: list[str] = []
    client = httpx2.Client(event_hooks={"request": [lambda r: seen.append(str(r.url))]})
    with OpenAITransport(chat_server.url, client=client) as t:
        assert t.complete(make_request()).text == "echo: hello there"
    assert seen == [f"{chat_server.url}/chat/completions"]
    assert not client.is_closed
    client.close()


async def test_an_injected_async_client_is_used_and_left_open(chat_server: ChatServer) -> None:
    seen: list[str] = []

    async def hook(request: httpx2.Request) -> None:
        seen.append(request.method)

    client = httpx2.AsyncClient(event_hooks={"request": [hook]})
    async with OpenAITransport(chat_server.url, async_client=client) as t:
        assert (await t.acomplete(make_request())).text == "echo: hello there"
        chunks = [c async for c in t.astream(make_request(stream=True))]
        assert assemble(chunks).text == "echo: hello there"  # type: ignore[attr-defined]
    assert seen == ["POST", "POST"]
    assert not client.is_closed
    await client.aclose()


def test_an_injected_client_keeps_its_own_timeout_unless_one_is_given(
    chat_server: ChatServer,
) -> None:
    timeouts: list[object] = []
    client = httpx2.Client(
        timeout=httpx2.Timeout(3.0),
        event_hooks={"request": [lambda r: timeouts.append(r.extensions["timeout"]["read"])]},
    )
    OpenAITransport(chat_server.url, client=client).complete(make_request())
    OpenAITransport(chat_server.url, client=client, timeout=7.0).complete(make_request())
    assert timeouts == [3.0, 7.0]
    client.close()


def test_the_context_manager_closes_the_clients_it_made(chat_server: ChatServer) -> None:
    with OpenAITransport(chat_server.url) as t:
        t.complete(make_request())
        client = t._client
        assert client is not None
        assert not client.is_closed
    assert client.is_closed
    assert chat_server.wait_idle()


async def test_the_async_context_manager_closes_the_clients_it_made(
    chat_server: ChatServer,
) -> None:
    async with OpenAITransport(chat_server.url) as t:
        await t.acomplete(make_request())
        t.complete(make_request())
        clients = (t._client, await t._async_clients.get())
    assert all(c is not None and c.is_closed for c in clients)  # type: ignore[union-attr]
    assert chat_server.wait_idle()


def test_environment_variables(chat_server: ChatServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", chat_server.url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with OpenAITransport() as t:
        assert t.base_url == chat_server.url
        t.complete(make_request())
    assert chat_server.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_defaults_without_environment() -> None:
    t = OpenAITransport()
    # OpenAI's own endpoint, named but never reached: no test sends a request to it.
    assert t.base_url == DEFAULT_BASE_URL == "https://" + "api.openai.com/v1"
    assert repr(t) == f"OpenAITransport(base_url='{DEFAULT_BASE_URL}')"
    assert (t.max_retries, t.timeout.connect, t.timeout.read) == (2, 5.0, 600.0)
    assert t.structured_output == "json_schema"


def test_arguments_win_over_the_environment(
    chat_server: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    with OpenAITransport(chat_server.url, api_key=KEY) as t:
        t.complete(make_request())
    assert chat_server.requests[0].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"base_url": "localhost:8000/v1"}, "base_url"),
        ({"base_url": "http://x", "api_key": "sk-é"}, "api_key"),
        ({"base_url": "http://x", "api_key": "sk-a\nb"}, "api_key"),
        ({"base_url": "http://x", "max_retries": -1}, "max_retries"),
    ],
)
def test_bad_arguments(kwargs: dict, param: str) -> None:
    with pytest.raises(ParameterError) as info:
        OpenAITransport(**kwargs)
    assert info.value.param == param
    assert "sk-" not in str(info.value)


def test_the_request_value_is_left_alone(transport: OpenAITransport) -> None:
    messages = (Message.user("hi"),)
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    request = Request("m", messages, body)
    list(transport.stream(request))
    assert body == {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def test_each_event_loop_gets_its_own_pool(chat_server: ChatServer) -> None:
    # Connections belong to the loop that opened them; asyncio.run() makes a new loop.
    t = OpenAITransport(chat_server.url)
    first_loop = asyncio.new_event_loop()

    async def turn(content: str) -> tuple[str, object]:
        return (await t.acomplete(make_request(content))).text, await t._async_clients.get()

    text, first = first_loop.run_until_complete(turn("a"))
    assert text == "echo: a"
    text, used = asyncio.run(turn("b"))  # its client is closed as asyncio.run() ends
    assert text == "echo: b"
    assert used is not first
    first_loop.run_until_complete(t.aclose())
    first_loop.close()
    assert chat_server.wait_idle()


def test_closing_in_each_loop_leaves_nothing_open(chat_server: ChatServer) -> None:
    t = OpenAITransport(chat_server.url)

    async def once(i: int) -> str:
        try:
            return (await t.acomplete(make_request(f"run {i}"))).text
        finally:
            await t.aclose()

    assert [asyncio.run(once(i)) for i in range(2)] == ["echo: run 0", "echo: run 1"]
    assert chat_server.wait_idle()
