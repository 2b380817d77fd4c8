from __future__ import annotations

import pytest

from convo import IncompleteStreamError, StreamError
from convo.streaming import StreamAssembler


def chunk(delta: dict, finish: str | None = None, index: int = 0) -> dict:
    return {"id": "s", "choices": [{"index": index, "delta": delta, "finish_reason": finish}]}


def test_tool_calls_streamed_by_index_in_parallel() -> None:
    a = StreamAssembler()
    a.feed(chunk({"role": "assistant", "content": None}))
    a.feed(
        chunk(
            {"tool_calls": [{"index": 0, "id": "c0", "function": {"name": "add", "arguments": ""}}]}
        )
    )
    a.feed(
        chunk(
            {
                "tool_calls": [
                    {"index": 1, "id": "c1", "function": {"name": "mul", "arguments": '{"a"'}}
                ]
            }
        )
    )
    a.feed(chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a": 1,'}}]}))
    a.feed(chunk({"tool_calls": [{"index": 1, "function": {"arguments": ": 2}"}}]}))
    a.feed(chunk({"tool_calls": [{"index": 0, "function": {"arguments": ' "b": 2}'}}]}))
    a.feed(chunk({}, "tool_calls"))
    a.feed(
        {
            "id": "s",
            "choices": [],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
        }
    )
    reply = a.finish()
    calls = reply.message.tool_calls
    assert calls is not None
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("c0", "add", '{"a": 1, "b": 2}'),
        ("c1", "mul", '{"a": 2}'),
    ]
    assert reply.usage is not None and reply.usage.total_tokens == 8
    assert reply.finish_reason == "tool_calls"


def test_n_choices() -> None:
    a = StreamAssembler()
    assert a.feed(chunk({"content": "A"}, index=0)) == "A"
    assert a.feed(chunk({"content": "B"}, index=1)) is None  # only choice 0 is streamed as text
    a.feed(chunk({}, "stop", index=0))
    a.feed(chunk({}, "stop", index=1))
    reply = a.finish()
    assert [c.message.text for c in reply.choices] == ["A", "B"]


def test_no_finish_reason_is_kept_as_none_and_no_choice_is_incomplete() -> None:
    # The transport says whether a stream ended well; the assembler takes what came.
    a = StreamAssembler()
    a.feed(chunk({"content": "Hello"}))
    assert a.finish().finish_reason is None
    with pytest.raises(IncompleteStreamError):
        StreamAssembler().finish()


def test_error_mid_stream() -> None:
    a = StreamAssembler()
    a.feed(chunk({"content": "Hel"}))
    with pytest.raises(StreamError, match="overloaded") as info:
        a.feed({"error": {"message": "overloaded", "type": "server_error", "code": 503}})
    assert info.value.type == "server_error" and info.value.code == "503"


def test_refusal() -> None:
    a = StreamAssembler()
    a.feed(chunk({"refusal": "I can't"}))
    a.feed(chunk({}, "stop"))
    reply = a.finish()
    assert reply.message.refusal == "I can't"
    assert reply.text == ""
