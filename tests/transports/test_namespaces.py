"""The three keyword namespaces over a real local server: API parameters go to the
body, convo's own options and transport options never do, client settings are refused
before any request."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import numpy as np
import pydantic
import pytest

from convo import AsyncConversation, Conversation, FunctionTransport
from convo.errors import APIStatusError, APITimeoutError, ParameterError
from convo.messages import Message
from convo.reply import Reply
from convo.request import Request
from convo.transports.openai import OpenAITransport
from tests.support import Answer, ChatServer, error


class City(pydantic.BaseModel):
    name: str


async def send(conv: Conversation | AsyncConversation, text: str, **params: object) -> object:
    if isinstance(conv, AsyncConversation):
        return await conv.send(text, **params)
    return conv.send(text, **params)


def conversation(mode: str, transport: OpenAITransport, **kw: object) -> object:
    cls = Conversation if mode == "sync" else AsyncConversation
    return cls("Be brief.", model="gpt-4o-mini", transport=transport, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["api_key", "base_url", "organization", "project"])
async def test_client_settings_are_refused_before_any_request(
    transport: OpenAITransport, chat_server: ChatServer, mode: str, key: str
) -> None:
    with pytest.raises(ParameterError, match="OpenAITransport") as info:
        conversation(mode, transport, **{key: "sk-secret-value"})
    assert info.value.param == key
    conv = conversation(mode, transport)
    with pytest.raises(ParameterError, match=rf"OpenAITransport\({key}="):
        await send(conv, "hi", **{key: "sk-secret-value"})  # type: ignore[arg-type]
    assert chat_server.requests == []


async def test_transport_options_are_honoured_and_never_in_the_body(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    conv = conversation(mode, transport, extra_headers={"X-Team": "a"})
    await send(
        conv,
        "hi",
        timeout=30,
        max_retries=1,
        extra_headers={"X-Trace": "t-1"},
        extra_query={"tenant": "x"},
        extra_body={"chat_template_kwargs": {"thinking": False}},
        temperature=0,
    )
    sent = chat_server.requests[0]
    body = sent.json
    for key in ("timeout", "max_retries", "extra_headers", "extra_query", "extra_body"):
        assert key not in body
    assert body["chat_template_kwargs"] == {"thinking": False}
    assert body["temperature"] == 0
    assert (sent.headers["x-trace"], sent.headers["x-team"]) == ("t-1", "a")
    assert sent.path == "/v1/chat/completions?tenant=x"


async def test_per_call_max_retries_and_timeout_are_applied(
    transport: OpenAITransport, chat_server: ChatServer, mode: str, sleeps: list[float]
) -> None:
    conv = conversation(mode, transport)
    chat_server.script(error(503, "busy"), error(503, "busy"), error(503, "busy"))
    with pytest.raises(APIStatusError):
        await send(conv, "hi", max_retries=0)
    assert len(chat_server.requests) == 1 and sleeps == []
    chat_server.reset()
    chat_server.script(Answer("late", delay=2.0))
    with pytest.raises(APITimeoutError):
        await send(conv, "hi", timeout=0.2, max_retries=0)


async def test_per_call_max_retries_true_is_refused(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    with pytest.raises(ParameterError, match="max_retries"):
        await send(conversation(mode, transport), "hi", max_retries=True)
    with pytest.raises(ParameterError, match="max_retries"):
        OpenAITransport(chat_server.url, max_retries=True)
    assert chat_server.requests == []


async def test_response_format_and_choose_are_constructor_defaults(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    chat_server.script(Answer('{"name": "Paris"}'))
    conv = conversation(mode, transport, response_format=City, choose=0)
    reply = await send(conv, "capital of France?")
    assert reply.parsed == City(name="Paris")  # type: ignore[attr-defined]
    body = chat_server.requests[0].json
    assert body["response_format"]["type"] == "json_schema"
    assert "choose" not in body


async def test_a_per_call_model_is_honoured_whole(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    conv = conversation(mode, transport)
    assert isinstance(conv, Conversation | AsyncConversation)
    request = conv.prepare("hi", model="gpt-3.5-turbo")
    own = Conversation("Be brief.", model="gpt-3.5-turbo", transport=transport).prepare("hi")
    assert request.model == "gpt-3.5-turbo" == request.body["model"]
    assert (request.budget, request.prompt_tokens) == (own.budget, own.prompt_tokens)
    assert request.budget != conv.prepare("hi").budget  # a 16k window, not gpt-4o-mini's
    await send(conv, "hi", model="gpt-3.5-turbo")
    assert chat_server.requests[0].json["model"] == "gpt-3.5-turbo"
    with pytest.raises(ParameterError, match="model"):
        await send(conv, "hi", model="")


async def test_unserializable_params_are_refused_naming_the_parameter(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    conv = conversation(mode, transport)
    with pytest.raises(ParameterError, match="metadata is a object") as info:
        await send(conv, "hi", metadata={"k": object()})
    assert info.value.param == "metadata"
    with pytest.raises(ParameterError, match="extra_body"):
        await send(conv, "hi", extra_body={"x": {1, 2}})
    assert chat_server.requests == []


async def test_decimal_and_numpy_numbers_are_numbers(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    conv = conversation(mode, transport)
    await send(
        conv,
        "hi",
        temperature=Decimal("0.5"),
        top_p=np.float32(0.25),
        seed=np.int64(7),
        logit_bias={np.int64(50256): np.int8(-100)},
    )
    body = chat_server.requests[0].json
    assert (body["temperature"], body["top_p"], body["seed"]) == (0.5, 0.25, 7)
    assert body["logit_bias"] == {"50256": -100}


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"top_logprobs": 21}, "top_logprobs"),
        ({"top_logprobs": -1}, "top_logprobs"),
        ({"logit_bias": {"1": 101}}, "logit_bias"),
        ({"logit_bias": {"1": -100.5}}, "logit_bias"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"temperature": Decimal("NaN")}, "temperature"),
    ],
)
def test_documented_ranges_are_checked(params: dict[str, object], name: str) -> None:
    conv = Conversation(model="gpt-4o-mini", transport=FunctionTransport(lambda r: "never"))
    with pytest.raises(ParameterError) as info:
        conv.send("hi", **params)
    assert info.value.param == name
    assert conv.transport.requests == []  # type: ignore[attr-defined]


def test_bodies_are_fresh() -> None:
    received: list[str] = []

    def vandal(request: object) -> str:
        body = request.body  # type: ignore[attr-defined]
        received.append(json.dumps(body))  # what this request carried, before the edits
        for message in body["messages"]:
            message["content"] = "EDITED"
        body["tools"][0]["function"]["name"] = "EDITED"
        body["response_format"]["json_schema"]["name"] = "EDITED"
        return '{"name": "x"}'

    def lookup(city: str) -> str:
        """Look a city up."""
        return city

    shared = Message.user("shared question")
    history = [shared, Message.assistant("a")]
    other = Conversation(model="gpt-4o-mini", messages=history)
    conv = Conversation(
        "Be brief.",
        model="gpt-4o-mini",
        transport=FunctionTransport(vandal),
        tools=[lookup],
        messages=history,
    )
    conv.send("first", response_format=City)
    conv.send("second", response_format=City)
    assert "EDITED" not in received[1]
    fresh = conv.prepare("third", response_format=City)
    assert "EDITED" not in json.dumps(fresh.body)
    assert other.prepare("x").body["messages"][0]["content"] == "shared question"


def test_per_call_header_values_never_show_in_a_repr() -> None:
    conv = Conversation(model="gpt-4o-mini", transport=FunctionTransport(lambda r: "ok"))
    request = conv.prepare("hi", extra_headers={"Authorization": "Bearer sk-per-call-secret"})
    assert request.options.extra_headers["Authorization"] == "Bearer sk-per-call-secret"
    assert "sk-per-call-secret" not in repr(request)
    assert "Authorization" in repr(request.options)


class Editing(OpenAITransport):
    """A transport that edits each request's body before sending it, as a user's
    subclass may (a proxy-specific field, a rewritten message)."""

    def complete(self, request: Request) -> Reply:
        self._edit(request)
        return super().complete(request)

    async def acomplete(self, request: Request) -> Reply:
        self._edit(request)
        return await super().acomplete(request)

    @staticmethod
    def _edit(request: Request) -> None:
        body = request.body
        body["messages"][-1]["content"] = "EDITED " + str(body["messages"][-1]["content"])
        body["seed"] = 7


async def test_an_edited_body_is_what_goes_over_the_wire(
    chat_server: ChatServer, mode: str
) -> None:
    transport = Editing(chat_server.url, api_key="sk-test")
    try:
        conv = conversation(mode, transport)
        await send(conv, "first")
        await send(conv, "second")
    finally:
        await transport.aclose()
    sent = [r.json for r in chat_server.requests]
    assert [m["content"] for m in sent[0]["messages"]] == ["Be brief.", "EDITED first"]
    assert sent[0]["seed"] == 7
    # The edit changed what that request sent, not the history the next one carries.
    assert [m["content"] for m in sent[1]["messages"][:2]] == ["Be brief.", "first"]
    assert sent[1]["messages"][-1]["content"] == "EDITED second"


async def test_a_transport_that_only_encodes_copies_no_message(
    transport: OpenAITransport, chat_server: ChatServer, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The per-request deep copy is made only for whoever asks for request.body; the
    # HTTP transport encodes request.payload, so a turn over it copies nothing.
    import convo.wire

    copies: list[object] = []
    real = convo.wire.fresh_body

    def counting(view: Any) -> dict[str, Any]:
        copies.append(view)
        return real(view)

    monkeypatch.setattr(convo.wire, "fresh_body", counting)
    conv = conversation(mode, transport, messages=[Message.user("q"), Message.assistant("a")])
    await send(conv, "hi")
    assert chat_server.requests[0].json["messages"][-1]["content"] == "hi"
    assert copies == []
    assert conv.prepare("again").body["messages"][-1]["content"] == "again"  # type: ignore[attr-defined]
    assert len(copies) == 1
