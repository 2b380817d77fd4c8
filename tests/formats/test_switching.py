"""One history, several wire formats: Chat Completions to Anthropic to Responses and back,
tool calls included, each request checked as it reached the server."""

from __future__ import annotations

import json

from convo import Conversation
from convo.transports.openai import OpenAITransport
from tests.formats.conftest import make
from tests.formats.test_against_test_server import add
from tests.support import Answer, ChatServer


def test_a_history_moves_between_formats_with_its_tool_calls(chat_server: ChatServer) -> None:
    chat_server.script(
        Answer(tool_calls=[("add", {"a": 1, "b": 2})]),  # Chat Completions asks for a tool
        Answer("three"),
        Answer(tool_calls=[("add", {"a": 3, "b": 4})]),  # Anthropic asks for one
        Answer("seven"),
        Answer(tool_calls=[("add", {"a": 7, "b": 1})]),  # Responses asks for one
        Answer("eight"),
        Answer("done"),  # and Chat Completions again
    )
    openai = OpenAITransport(chat_server.url)
    anthropic = make("anthropic", chat_server.url)
    responses = make("responses", chat_server.url)
    conv = Conversation("Use tools.", model="m", transport=openai, tools=[add])
    assert conv.send("1+2?").text == "three"
    conv = Conversation(messages=conv.messages, model="claude-m", transport=anthropic, tools=[add])
    with conv.stream("3+4?") as s:
        assert "".join(s) == "seven"
    conv = Conversation(messages=conv.messages, model="gpt-5", transport=responses, tools=[add])
    assert conv.send("7+1?").text == "eight"
    conv = Conversation(messages=conv.messages, model="m", transport=openai, tools=[add])
    assert conv.send("thanks").text == "done"
    for t in (openai, anthropic, responses):
        t.close()

    roles = [m.role for m in conv.messages]
    assert roles == ["system"] + ["user", "assistant", "tool", "assistant"] * 3 + [
        "user",
        "assistant",
    ]
    ids = [m.tool_calls[0].id for m in conv.messages if m.tool_calls]
    assert len(set(ids)) == 3
    assert [m.text for m in conv.messages if m.role == "tool"] == ["3", "7", "8"]

    paths = [r.path for r in chat_server.requests]
    assert paths == ["/v1/chat/completions"] * 2 + ["/v1/messages"] * 2 + ["/v1/responses"] * 2 + [
        "/v1/chat/completions"
    ]
    # Anthropic saw the Chat Completions round as tool_use / tool_result blocks.
    messages = chat_server.requests[2].json["messages"]
    assert messages[1]["content"] == [
        {"type": "tool_use", "id": ids[0], "name": "add", "input": {"a": 1, "b": 2}}
    ]
    assert messages[2]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": ids[0],
        "content": "3",
    }
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]
    assert messages[3]["content"] == [{"type": "text", "text": "three"}]
    # Responses saw both earlier rounds as function_call items.
    items = chat_server.requests[4].json["input"]
    calls = [i for i in items if i.get("type") == "function_call"]
    assert [c["call_id"] for c in calls] == ids[:2]
    assert json.loads(calls[1]["arguments"]) == {"a": 3, "b": 4}
    # And the last Chat Completions request carries all three rounds as tool_calls.
    wire = chat_server.requests[6].json["messages"]
    assert [m["tool_calls"][0]["id"] for m in wire if m.get("tool_calls")] == ids
    assert [m["tool_call_id"] for m in wire if m["role"] == "tool"] == ids
