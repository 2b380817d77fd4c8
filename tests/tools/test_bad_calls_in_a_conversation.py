"""Every bad call a model can make, through a whole conversation with a scripted transport:
nothing unregistered runs, each call is answered once with its own id, the turn goes on."""

from __future__ import annotations

import json
import time

import pytest

from convo import Conversation, ScriptedTransport, ToolArgumentsError, ToolNotFoundError, tool
from convo.transports.testing import tool_calls

ran: list[object] = []


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    ran.append((a, b))
    return a + b


@tool(timeout=0.05)
def slow() -> str:
    """Takes too long."""
    time.sleep(1)
    return "late"


@tool
def broken() -> str:
    """Raises."""
    raise ValueError("database unreachable")


@pytest.fixture(autouse=True)
def _clear() -> None:
    ran.clear()


@pytest.mark.parametrize(
    ("name", "arguments", "says"),
    [
        ("add", "{", "not valid JSON"),
        ("add", '""', "object"),
        ("add", "[]", "object"),
        ("add", "5", "object"),
        ("add", {"a": "two", "b": 3}, "a"),
        ("add", {"a": 1}, "b"),
        ("add", {"a": 1, "b": 2, "c": 3}, "c"),
        ("add", json.dumps({"a": 1, "b": "x" * 2_000_000}), "over the 1,000,000"),
        ("ADD", {"a": 1, "b": 2}, "add"),
        ("rm_rf", {}, "add"),
        ("slow", {}, "did not finish"),
        ("broken", {}, "database unreachable"),
    ],
    ids=[
        "open-brace",
        "empty-string",
        "array",
        "number",
        "wrong-type",
        "missing",
        "extra",
        "megabytes",
        "other-case",
        "unknown",
        "timeout",
        "raises",
    ],
)
def test_bad_call_is_answered_and_the_turn_continues(
    name: str, arguments: object, says: str
) -> None:
    fake = ScriptedTransport(tool_calls((name, arguments), ("add", {"a": 2, "b": 2})), "done")
    # A window large enough to send the model's own megabyte of arguments back to it.
    conv = Conversation(
        model="m", transport=fake, tools=[add, slow, broken], context_window=2_000_000
    )
    assert conv.send("go").text == "done"
    call_msg = conv.messages[1]
    ids = [c.id for c in call_msg.tool_calls or ()]
    answers = [m for m in conv.messages if m.role == "tool"]
    assert [m.tool_call_id for m in answers] == ids  # each answered once, in order
    assert says.lower() in answers[0].text.lower()
    assert answers[1].text == "4"
    assert ran == [(2, 2)]  # only the good call ran
    # the model saw the error on its next request
    assert fake.requests[1].body["messages"][2]["tool_call_id"] == ids[0]


@pytest.mark.parametrize(
    ("name", "arguments", "error"),
    [("add", "{", ToolArgumentsError), ("nope", {}, ToolNotFoundError)],
)
def test_raise_policy(name: str, arguments: object, error: type[Exception]) -> None:
    conv = Conversation(
        model="m",
        transport=ScriptedTransport(tool_calls((name, arguments))),
        tools=[add],
        tool_errors="raise",
    )
    with pytest.raises(error) as info:
        conv.send("go")
    assert getattr(info.value, "tool_call_id", None)
    assert conv.messages == [] and ran == []
