"""The I/O-free translations, case by case: what each format's JSON becomes and back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from convo.errors import IncompleteStreamError, ProtocolError, StreamError
from convo.request import Request
from convo.streaming import StreamAssembler
from convo.transports.responses import ResponsesFormat
from convo.transports.sse import ServerSentEvent
from tests.support import require

anthropic = require("convo_anthropic.format", "needs convo-anthropic")


def encode(fmt: Any, **body: Any) -> dict[str, Any]:
    return fmt.encode(Request("m", (), {"model": "m", **body}), stream=False)  # type: ignore[no-any-return]


CALLS = [
    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}},
    {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "not json"}},
]
HISTORY = [
    {"role": "system", "content": "One."},
    {"role": "developer", "content": "Two."},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "see"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}},
        ],
    },
    {"role": "assistant", "content": "", "tool_calls": CALLS},
    {"role": "tool", "content": "r1", "tool_call_id": "c1"},
    {"role": "tool", "content": "r2", "tool_call_id": "c2"},
    {"role": "user", "content": "next"},
]


def test_anthropic_parallel_results_share_one_user_turn() -> None:
    out = encode(anthropic.AnthropicFormat(), messages=HISTORY, stop="END", max_completion_tokens=7)
    assert out["system"] == "One.\n\nTwo."
    assert out["max_tokens"] == 7 and out["stop_sequences"] == ["END"]
    roles = [m["role"] for m in out["messages"]]
    assert roles == ["user", "assistant", "user"]  # alternating, as the API requires
    image = out["messages"][0]["content"][1]
    assert image == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "AAA"},
    }
    uses = out["messages"][1]["content"]
    assert [u["input"] for u in uses] == [{"x": 1}, {"_raw": "not json"}]
    last = out["messages"][2]["content"]
    assert [b["type"] for b in last] == ["tool_result", "tool_result", "text"]


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        ("none", False, {"type": "none"}),
        (
            {"type": "function", "function": {"name": "f"}},
            False,
            {"type": "tool", "name": "f", "disable_parallel_tool_use": True},
        ),
    ],
)
def test_anthropic_tool_choice(choice: Any, parallel: Any, expected: Any) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    body = {"messages": [], "tools": tools, "tool_choice": choice}
    if parallel is not None:
        body["parallel_tool_calls"] = parallel
    assert encode(anthropic.AnthropicFormat(), **body)["tool_choice"] == expected


def test_anthropic_openai_only_parameters_are_not_sent() -> None:
    out = encode(
        anthropic.AnthropicFormat(),
        messages=[],
        n=2,
        seed=1,
        presence_penalty=1,
        stream_options={"include_usage": True},
        temperature=0.5,
    )
    assert set(out) == {"model", "max_tokens", "messages", "temperature"}


def ev(name: str, **data: Any) -> tuple[str, str]:
    """A named event whose data carries its type, as both formats send them."""
    return name, json.dumps({"type": name, **data})


def _events(translator: Any, events: list[tuple[str, str]]) -> list[Any]:
    out = []
    for name, data in events:
        out += translator.feed(ServerSentEvent(name, data))
    return out + translator.finish()


def test_anthropic_stream_usage_counts_cached_prompt_tokens() -> None:
    usage = {"input_tokens": 5, "cache_read_input_tokens": 10}
    text = {"type": "text", "text": ""}
    events = [
        ev("message_start", message={"id": "m", "model": "c", "usage": usage}),
        ev("content_block_start", index=0, content_block=text),
        ev("content_block_delta", index=0, delta={"type": "thinking_delta", "thinking": "hm"}),
        ev("content_block_delta", index=0, delta={"type": "text_delta", "text": "hi"}),
        ev("ping"),
        ev("message_delta", delta={"stop_reason": "max_tokens"}, usage={"output_tokens": 3}),
        ev("message_stop"),
    ]
    assembler = StreamAssembler()
    for chunk in _events(anthropic.AnthropicFormat().events(), events):
        assembler.feed(chunk)
    reply = assembler.finish()
    assert reply.text == "hi" and reply.finish_reason == "length"
    assert reply.usage is not None and (
        reply.usage.prompt_tokens,
        reply.usage.completion_tokens,
    ) == (15, 3)


def test_anthropic_stream_faults() -> None:
    fmt = anthropic.AnthropicFormat()
    with pytest.raises(IncompleteStreamError):
        _events(fmt.events(), [ev("message_start", message={})])
    with pytest.raises(ProtocolError):
        _events(fmt.events(), [("content_block_delta", "{not json")])
    stray = {"type": "input_json_delta", "partial_json": "{"}
    with pytest.raises(ProtocolError, match="outside a tool_use"):
        _events(fmt.events(), [ev("content_block_delta", index=3, delta=stray)])


def test_anthropic_reply_refusal_and_no_content() -> None:
    fmt = anthropic.AnthropicFormat()
    reply = fmt.reply({"content": [], "stop_reason": "refusal"}, request_id=None)
    assert reply.finish_reason == "content_filter" and reply.text == ""
    with pytest.raises(ProtocolError):
        fmt.reply({"type": "message"}, request_id=None)


def test_responses_input_items() -> None:
    out = encode(
        ResponsesFormat(),
        messages=HISTORY,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "X", "schema": {"type": "object"}, "strict": True},
        },
    )
    kinds = [(i["type"], i.get("role")) for i in out["input"]]
    assert kinds == [
        ("message", "system"),
        ("message", "developer"),
        ("message", "user"),
        ("function_call", None),
        ("function_call", None),
        ("function_call_output", None),
        ("function_call_output", None),
        ("message", "user"),
    ]
    assert out["input"][2]["content"][1] == {
        "type": "input_image",
        "image_url": "data:image/png;base64,AAA",
    }
    assert out["input"][4]["arguments"] == "not json"  # sent as the model wrote it
    assert out["text"] == {
        "format": {"type": "json_schema", "name": "X", "schema": {"type": "object"}, "strict": True}
    }


def test_responses_reply_incomplete_and_refusal() -> None:
    data = {
        "output": [
            {"type": "reasoning", "summary": []},
            {"type": "message", "content": [{"type": "refusal", "refusal": "no"}]},
        ],
        "status": "incomplete",
        "incomplete_details": {"reason": "content_filter"},
    }
    reply = ResponsesFormat().reply(data, request_id="r")
    assert reply.finish_reason == "content_filter" and reply.message.refusal == "no"


def test_responses_stream_failure_and_whole_arguments() -> None:
    fmt = ResponsesFormat()
    with pytest.raises(StreamError, match="boom"):
        _events(fmt.events(), [ev("response.failed", response={"error": {"message": "boom"}})])
    call = {"type": "function_call", "call_id": "c", "name": "f"}
    events = [
        ev("response.created", response={"id": "r", "model": "m"}),
        ev("response.output_item.added", output_index=0, item=call),
        # Only the finished item carries the arguments: no delta came.
        ev("response.output_item.done", output_index=0, item={**call, "arguments": "{}"}),
        ev("response.completed", response={"status": "completed"}),
    ]
    assembler = StreamAssembler()
    for chunk in _events(fmt.events(), [("message", d) for _, d in events]):
        assembler.feed(chunk)
    reply = assembler.finish()
    assert reply.finish_reason == "tool_calls" and reply.tool_calls[0].function.arguments == "{}"
