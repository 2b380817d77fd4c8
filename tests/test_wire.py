"""Each compatibility rule of convo/wire.py, and the reply parsing."""

from __future__ import annotations

import pytest

from convo import FunctionCall, Message, ProtocolError, ToolCall
from convo.wire import build_body, message_to_wire, parse_completion

CALL = ToolCall(id="c1", function=FunctionCall(name="f", arguments='{"x": 1}'))


def test_assistant_tool_calls_get_empty_string_content() -> None:
    # llama.cpp rejects null and breaks on a missing key.
    wire = message_to_wire(Message.assistant(tool_calls=[CALL]))
    assert wire["content"] == ""
    assert wire["tool_calls"] == [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
    ]


def test_tool_choice_auto_when_tools_and_none_chosen() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    body = build_body("m", [Message.user("hi")], {}, tools)
    assert body["tool_choice"] == "auto"
    body = build_body("m", [Message.user("hi")], {"tool_choice": "none"}, tools)
    assert body["tool_choice"] == "none"
    assert "tool_choice" not in build_body("m", [Message.user("hi")], {})


def test_wire_dict_cached_once() -> None:
    m = Message.user("hi")
    assert message_to_wire(m) is message_to_wire(m)


def test_stream_body_asks_for_usage() -> None:
    body = build_body("m", [Message.user("hi")], {"temperature": 0}, stream=True)
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 0


def test_parse_completion_null_content_and_choices() -> None:
    data = {
        "id": "x",
        "model": "m",
        "created": 1,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None},
                "finish_reason": "length",
            },
            {"index": 1, "message": {"role": "assistant", "content": "b"}, "finish_reason": "stop"},
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21},
    }
    reply = parse_completion(data, request_id="req-1")
    assert reply.text == "" and reply.finish_reason == "length"
    assert reply.choices[1].message.text == "b"
    assert reply.usage is not None and reply.usage.total_tokens == 21
    assert reply.request_id == "req-1"


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"choices": []},
        {"choices": [{"message": "x"}]},
        "<html>502</html>",
        None,
        {"choices": [{"message": {"role": "assistant", "content": 5}}]},
    ],
)
def test_parse_completion_rejects_garbage(data: object) -> None:
    with pytest.raises(ProtocolError):
        parse_completion(data)
