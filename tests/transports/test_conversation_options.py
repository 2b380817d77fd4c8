"""Transport options given to the conversation (``timeout``, ``extra_headers``,
``extra_query``, ``extra_body``, ``max_retries``) are defaults for every call, sync and
async, over a real local server: a call's own override them (headers merged without
case), a fork keeps them, and the store never sees them (they may hold credentials)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from convo import AsyncConversation, Conversation, SQLStore
from convo.errors import APIStatusError, APITimeoutError
from convo.transports.openai import OpenAITransport
from tests.support import Answer, ChatServer, error

SECRET = "Bearer sk-proxy-credential-7f3a"
OPTIONS: dict[str, Any] = {
    "extra_headers": {"X-Team": "a", "Proxy-Authorization": SECRET},
    "extra_query": {"tenant": "t1"},
    "extra_body": {"chat_template_kwargs": {"thinking": False}},
    "max_retries": 0,
    "timeout": 5,
}


def conversation(mode: str, transport: OpenAITransport, **kw: Any) -> Any:
    cls = Conversation if mode == "sync" else AsyncConversation
    return cls("Be brief.", model="gpt-4o-mini", transport=transport, **kw)


async def send(conv: Any, text: str = "hi", **params: Any) -> Any:
    if isinstance(conv, AsyncConversation):
        return await conv.send(text, **params)
    return conv.send(text, **params)


async def stream(conv: Any, text: str = "hi", **params: Any) -> str:
    if isinstance(conv, AsyncConversation):
        return "".join([p async for p in conv.stream(text, **params)])
    return "".join(conv.stream(text, **params))


async def fork(conv: Any) -> Any:
    return await conv.fork() if isinstance(conv, AsyncConversation) else conv.fork()


def headers_named(sent: Any, name: str) -> list[str]:
    return [v for k, v in sent.header_lines if k == name]


def assert_defaults_sent(sent: Any) -> None:
    assert headers_named(sent, "x-team") == ["a"]
    assert headers_named(sent, "proxy-authorization") == [SECRET]
    assert sent.path == "/v1/chat/completions?tenant=t1"
    assert sent.json["chat_template_kwargs"] == {"thinking": False}
    for key in OPTIONS:
        assert key not in sent.json


async def test_constructor_options_are_every_calls_defaults(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    conv = conversation(mode, transport, **OPTIONS)
    await send(conv)
    await stream(conv)
    await send(conv, "again")
    assert len(chat_server.requests) == 3
    for sent in chat_server.requests:
        assert_defaults_sent(sent)
    # max_retries=0 as a default: a 503 is not retried.
    chat_server.script(error(503, "busy"), Answer("never reached"))
    with pytest.raises(APIStatusError):
        await send(conv)
    assert len(chat_server.requests) == 4


async def test_a_calls_options_override_the_defaults(
    transport: OpenAITransport, chat_server: ChatServer, mode: str, sleeps: list[float]
) -> None:
    conv = conversation(mode, transport, **OPTIONS)
    request = conv.prepare("hi", extra_headers={"x-team": "b"}, extra_query={"tenant": "t2"})
    assert dict(request.options.extra_headers) == {"Proxy-Authorization": SECRET, "x-team": "b"}
    await send(
        conv,
        extra_headers={"x-team": "b", "X-Trace": "1"},
        extra_query={"page": "2"},
        extra_body={"chat_template_kwargs": {"thinking": True}},
    )
    sent = chat_server.requests[-1]
    assert headers_named(sent, "x-team") == ["b"]  # one header, the call's
    assert headers_named(sent, "proxy-authorization") == [SECRET]  # the default stays
    assert headers_named(sent, "x-trace") == ["1"]
    assert sent.path == "/v1/chat/completions?tenant=t1&page=2"
    assert sent.json["chat_template_kwargs"] == {"thinking": True}
    chat_server.script(error(503, "busy"), Answer("second try"))
    assert (await send(conv, max_retries=1)).text == "second try"
    assert len(sleeps) == 1


async def test_the_default_timeout_applies_and_a_call_may_lift_it(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    conv = conversation(mode, transport, timeout=0.2, max_retries=0)
    chat_server.script(Answer("late", delay=1.0))
    with pytest.raises(APITimeoutError):
        await send(conv)
    chat_server.script(Answer("late", delay=0.4))
    assert (await send(conv, timeout=10)).text == "late"


async def test_a_fork_keeps_the_options(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    conv = conversation(mode, transport, **OPTIONS)
    await send(conv)
    child = await fork(conv)
    await send(child, "from the fork")
    await stream(child, "streamed from the fork")
    for sent in chat_server.requests[1:]:
        assert_defaults_sent(sent)


async def test_the_store_never_sees_the_options(
    transport: OpenAITransport, chat_server: ChatServer, mode: str, tmp_path: Path
) -> None:
    path = tmp_path / "convo.db"
    with SQLStore(f"sqlite:///{path}") as store:
        conv = conversation(mode, transport, store=store, temperature=0, **OPTIONS)
        await send(conv)
        child = await fork(conv)
        await send(child, "more")
        for conv_id in (conv.id, child.id):
            params = store.load(conv_id).header.params
            assert params == {"temperature": 0}
        loaded = Conversation.load(conv.id, store=store, transport=transport)
        assert loaded._options == Conversation(model="m", transport=transport)._options
        again = Conversation.load(conv.id, store=store, transport=transport, **OPTIONS)
        again.send("given again")
    assert_defaults_sent(chat_server.requests[-1])  # they were in use all along
    data = stored_bytes(tmp_path)
    assert b"temperature" in data  # what is stored is there to read
    assert SECRET.encode() not in data
    assert b"tenant" not in data and b"chat_template_kwargs" not in data


def stored_bytes(folder: Path) -> bytes:
    """Every byte of the SQLite database, its WAL included."""
    return b"".join(p.read_bytes() for p in folder.iterdir() if p.name.startswith("convo.db"))
