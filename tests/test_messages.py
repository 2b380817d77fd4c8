from __future__ import annotations

import pytest

from convo import FunctionCall, Message, MessageError, TextPart, ToolCall
from convo.messages import to_messages


def test_roles_and_constructors() -> None:
    assert Message.system("s").role == "system"
    assert Message.developer("d").role == "developer"
    assert Message.user("u").text == "u"
    call = ToolCall(id="c1", function=FunctionCall(name="f", arguments="{}"))
    a = Message.assistant(tool_calls=[call])
    assert a.content is None and a.tool_calls == (call,)
    assert Message.tool("42", tool_call_id="c1").tool_call_id == "c1"


def test_messages_are_frozen_values() -> None:
    m = Message.user("hi")
    with pytest.raises(Exception, match="frozen"):
        m.content = "other"  # type: ignore[misc]
    m._tokens["x"] = 3  # caches never change equality or hashing
    assert m == Message.user("hi")
    assert hash(m) == hash(Message.user("hi"))
    assert m != Message.user("ho")


def test_content_parts() -> None:
    m = to_messages(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look: "},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}},
                    {"type": "text", "text": "ok"},
                ],
            }
        ]
    )[0]
    assert isinstance(m.content, tuple) and isinstance(m.content[0], TextPart)
    assert m.text == "look: ok"


@pytest.mark.parametrize(
    ("bad", "field", "words"),
    [
        ({"role": "", "content": "x"}, "role", "not a role"),
        ({"role": "System", "content": "x"}, "role", "not a role"),
        ({"role": "bot", "content": "x"}, "role", "not a role"),
        ({"role": "tool", "content": "x"}, "tool_call_id", "needs a tool_call_id"),
        ({"role": "user", "content": "x", "tool_call_id": "a"}, "tool_call_id", "cannot have"),
        ({"role": "user"}, "content", "needs content"),
        ({"role": "user", "content": 5}, "content", "valid string"),
        ({"role": "user", "content": "a\ud800b"}, "content", "lone surrogate"),
        ({"role": "user", "content": "x", "contents": "y"}, "contents", "Extra"),
        ({"role": "assistant"}, "content", "needs content, tool_calls or a refusal"),
        ({"role": "user", "content": "x", "tool_calls": []}, "tool_calls", "cannot have"),
    ],
)
def test_invalid_messages_name_index_and_field(bad: dict, field: str, words: str) -> None:
    good = {"role": "user", "content": "fine"}
    with pytest.raises(MessageError) as info:
        to_messages([good, good, bad])
    assert info.value.index == 2
    assert info.value.field == field
    assert words in str(info.value)
    assert str(info.value).startswith("message 2")


def test_not_a_mapping() -> None:
    with pytest.raises(MessageError, match="message 0: expected a Message or a dict, got int"):
        to_messages([3])  # type: ignore[list-item]


@pytest.mark.parametrize(
    "text", ["emoji 🤖👍🏽", "中文字符", "line\u2028sep", "nul\x00ok", "<|endoftext|>"]
)
def test_text_round_trips(text: str) -> None:
    m = Message.user(text)
    assert Message.model_validate_json(m.model_dump_json()) == m
