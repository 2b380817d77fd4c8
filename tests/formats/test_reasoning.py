"""Reasoning items of the Responses API: kept with the assistant message they came with,
sent back in later requests (the encrypted kind only), stored, and never sent by a
format that has no place for them. Over the local test server, which answers a stale
reasoning reference as OpenAI does (404: not persisted when store is false)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from convo import AsyncConversation, Conversation, OpenAITransport, tool
from convo.messages import FunctionCall, Message, Reasoning, ToolCall, to_messages
from convo.store import SQLStore
from convo.transports.responses import ResponsesTransport
from tests.formats.conftest import KEY
from tests.support import Answer, ChatServer


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


THOUGHT = "The user wants a sum.\n\nI should call add."


CALL = ToolCall(id="call_1", function=FunctionCall(name="add", arguments="{}"))


def tool_round(thought: Reasoning) -> list[Message]:
    """A finished tool round whose call came with ``thought``."""
    return [
        Message.user("1+1?"),
        Message(role="assistant", tool_calls=(CALL,), reasoning_items=(thought,)),
        Message.tool("2", tool_call_id="call_1"),
    ]


@pytest.fixture
async def responses(chat_server: ChatServer) -> AsyncIterator[ResponsesTransport]:
    t = ResponsesTransport(chat_server.url, api_key=KEY)
    yield t
    t.close()
    await t.aclose()


def conversation(t: ResponsesTransport, mode: str, **kw: Any) -> Any:
    cls = Conversation if mode == "sync" else AsyncConversation
    return cls("Be brief.", model="gpt-5", transport=t, tools=[add], **kw)


async def send(conv: Any, text: str, mode: str, stream: bool) -> Any:
    if mode == "sync":
        if stream:
            with conv.stream(text) as s:
                "".join(s)
            return s.reply
        return conv.send(text)
    if stream:
        async with conv.stream(text) as s:
            "".join([d async for d in s])
        return s.reply
    return await conv.send(text)


@pytest.mark.parametrize("stream", [False, True])
async def test_reasoning_is_kept_and_sent_back_before_its_tool_call(
    chat_server: ChatServer, responses: ResponsesTransport, mode: str, stream: bool
) -> None:
    chat_server.script(
        Answer(tool_calls=[("add", {"a": 2, "b": 3})], reasoning=THOUGHT), Answer("It is 5.")
    )
    conv = conversation(responses, mode, reasoning={"effort": "low"})
    await send(conv, "2+3?", mode, stream)
    first, second = (r.json for r in chat_server.requests)
    assert first["include"] == ["reasoning.encrypted_content"]
    assert first["reasoning"] == {"effort": "low"}
    (item,) = conv.messages[2].reasoning_items
    assert item == Reasoning(
        id="rs_resp-1", text=THOUGHT, encrypted="enc:" + THOUGHT[::-1], format="responses"
    )
    assert [i.get("type") for i in second["input"]] == [
        "message",
        "message",
        "reasoning",
        "function_call",
        "function_call_output",
    ]
    assert second["input"][2] == {
        "type": "reasoning",
        "id": "rs_resp-1",
        "summary": [{"type": "summary_text", "text": THOUGHT}],
        "encrypted_content": "enc:" + THOUGHT[::-1],
    }
    assert conv.messages[-1].text == "It is 5."
    assert conv.messages[-1].reasoning_items is None


@pytest.mark.parametrize("stream", [False, True])
async def test_the_summary_is_the_replys_reasoning(
    chat_server: ChatServer, responses: ResponsesTransport, mode: str, stream: bool
) -> None:
    chat_server.script(Answer("Four.", reasoning=THOUGHT))
    conv = conversation(responses, mode, reasoning={"effort": "low", "summary": "auto"})
    reply = await send(conv, "2+2?", mode, stream)
    assert reply.reasoning == THOUGHT
    assert reply.text == "Four."
    assert conv.messages[-1].reasoning_items[0].text == THOUGHT


async def test_reasoning_without_its_encrypted_content_is_never_sent_back(
    chat_server: ChatServer, responses: ResponsesTransport, mode: str
) -> None:
    # No reasoning parameter, so no include: the server's items name state store=false
    # never kept, and the test server refuses them (404) as OpenAI does.
    chat_server.script(Answer(tool_calls=[("add", {"a": 1, "b": 1})], reasoning=THOUGHT))
    conv = conversation(responses, mode)
    await send(conv, "1+1?", mode, False)
    assert "include" not in chat_server.requests[0].json
    assert conv.messages[2].reasoning_items[0].encrypted is None
    second = chat_server.requests[1].json
    assert "reasoning" not in [i.get("type") for i in second["input"]]
    assert conv.messages[-1].role == "assistant"


def test_the_test_server_refuses_a_stale_reference_as_openai_does(
    chat_server: ChatServer,
) -> None:
    # What the rule above protects from: this is the answer to sending it anyway.
    import httpx2

    body = {
        "model": "gpt-5",
        "store": False,
        "input": [{"type": "reasoning", "id": "rs_1", "summary": []}],
    }
    r = httpx2.post(f"{chat_server.url}/responses", json=body)
    assert r.status_code == 404 and "not persisted" in r.text


def test_reasoning_survives_the_store_and_a_fork(
    chat_server: ChatServer, responses: ResponsesTransport, tmp_path: Any
) -> None:
    chat_server.script(
        Answer(tool_calls=[("add", {"a": 2, "b": 3})], reasoning=THOUGHT),
        Answer("It is 5."),
        Answer("Still 5."),
    )
    with SQLStore(f"sqlite:///{tmp_path / 'c.db'}") as store:
        conv = conversation(responses, "sync", store=store, reasoning={"effort": "low"})
        conv.send("2+3?")
        loaded = Conversation.load(conv.id, store=store, transport=responses)
        assert loaded.messages == conv.messages
        assert loaded.messages[2].reasoning_items == conv.messages[2].reasoning_items
        fork = loaded.fork(at=len(loaded.history))
        assert fork.messages[2].reasoning_items == conv.messages[2].reasoning_items
        again = Conversation.load(fork.id, store=store, transport=responses)
        assert again.messages[2].reasoning_items[0].encrypted == "enc:" + THOUGHT[::-1]


def test_chat_completions_never_sends_reasoning_items(chat_server: ChatServer) -> None:
    chat = OpenAITransport(chat_server.url, api_key=KEY)
    history = tool_round(Reasoning(id="rs_1", text="hm", encrypted="enc:x"))
    conv = Conversation("Be brief.", model="gpt-4o-mini", transport=chat, messages=history)
    with chat:
        conv.send("Thanks")
    sent = chat_server.requests[-1].json["messages"][2]
    assert sent == {"role": "assistant", "content": "", "tool_calls": [CALL.model_dump()]}
    assert "rs_1" not in json.dumps(chat_server.requests[-1].json)


def test_only_an_assistant_message_has_reasoning() -> None:
    from convo.errors import MessageError

    bad = {"role": "user", "content": "hi", "reasoning_items": [{"text": "x"}]}
    with pytest.raises(MessageError, match="message 0, field 'reasoning_items': a user"):
        to_messages([bad])


def test_an_edited_message_does_not_send_reasoning_it_no_longer_matches() -> None:
    from convo.request import Request
    from convo.transports.responses import ResponsesFormat
    from convo.wire import build_body

    messages = tuple(tool_round(Reasoning(id="rs_1", encrypted="enc:x")))
    body = build_body("gpt-5", messages, {}, stream=False)
    fmt = ResponsesFormat()
    kinds = [i["type"] for i in fmt.encode(Request("gpt-5", messages, body), stream=False)["input"]]
    assert kinds == ["message", "reasoning", "function_call", "function_call_output"]
    body["messages"][1]["tool_calls"][0]["id"] = "call_2"
    body["messages"][2]["tool_call_id"] = "call_2"
    kinds = [i["type"] for i in fmt.encode(Request("gpt-5", messages, body), stream=False)["input"]]
    assert kinds == ["message", "function_call", "function_call_output"]


def test_a_given_history_sends_its_reasoning_back(
    chat_server: ChatServer, responses: ResponsesTransport
) -> None:
    history = tool_round(Reasoning(id="rs_9", text="old", encrypted="enc:x"))
    conv = Conversation("Be brief.", model="gpt-5", transport=responses, messages=history)
    conv.send("Thanks")
    sent = chat_server.requests[-1].json["input"]
    assert [i.get("type") for i in sent][2:4] == ["reasoning", "function_call"]
    assert sent[2]["id"] == "rs_9" and sent[2]["encrypted_content"] == "enc:x"
