"""prepare / run / run_all: every call answered once, nothing the model sends crashes the loop."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import threading
from typing import Any

import pytest
from pydantic import BaseModel

from convo.errors import (
    ToolArgumentsError,
    ToolExecutionError,
    ToolNotFoundError,
    ToolRefusedError,
    ToolTimeoutError,
)
from convo.messages import FunctionCall, Message, ToolCall
from convo.tools import PreparedCall, Tool, ToolRegistry, prepare, run, run_all, to_text

CALLS: list[str] = []


def add(a: int, b: int) -> int:
    """Add."""
    CALLS.append("add")
    return a + b


def boom(reason: str) -> str:
    """Fail."""
    raise ValueError(reason)


async def slow_echo(text: str) -> str:
    """Echo after a pause."""
    await asyncio.sleep(0)
    return text


REGISTRY = ToolRegistry([add, boom, slow_echo])


@pytest.fixture(autouse=True)
def _reset() -> None:
    CALLS.clear()


def call(name: str, arguments: str, id: str = "call_1") -> ToolCall:
    return ToolCall(id=id, function=FunctionCall(name=name, arguments=arguments))


def ready(name: str, arguments: str, id: str = "call_1") -> PreparedCall:
    prepared = prepare(REGISTRY, call(name, arguments, id))
    assert isinstance(prepared, PreparedCall)
    return prepared


# -- prepare -------------------------------------------------------------------------


def test_prepare_validates_without_running() -> None:
    prepared = ready("add", '{"a": 1, "b": "2"}')
    assert prepared.tool.name == "add"
    assert prepared.arguments == {"a": 1, "b": 2}
    assert CALLS == []


@pytest.mark.parametrize("name", ["nope", "ADD", "Add", "add ", "", "x" * 500])
def test_unknown_or_other_case_name_answers_and_runs_nothing(name: str) -> None:
    answer = prepare(REGISTRY, call(name, '{"a": 1, "b": 2}', id="c9"))
    assert isinstance(answer, Message)
    assert answer.role == "tool" and answer.tool_call_id == "c9"
    assert answer.text.startswith("Error: there is no tool named ")
    assert answer.text.endswith("the tools are: add, boom, slow_echo")
    assert len(answer.text) < 300
    assert CALLS == []


def test_unknown_name_raise_policy() -> None:
    with pytest.raises(ToolNotFoundError) as info:
        prepare(REGISTRY, call("Add", "{}", id="c2"), on_error="raise")
    assert (info.value.tool, info.value.tool_call_id) == ("Add", "c2")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ("{", "not valid JSON"),
        ('""', "must be a JSON object, got a string"),
        ("[]", "must be a JSON object, got an array"),
        ("5", "must be a JSON object, got a number"),
        ('{"a": "one", "b": 2}', "- a: Input should be a valid integer"),
        ('{"a": 1}', "- b: required, but missing"),
        ('{"a": 1, "b": 2, "c": 3}', "- c: not a parameter of this tool"),
        ('{"a": 1, "b": 2, "pad": "' + "x" * 1_000_001 + '"}', "over the 1,000,000"),
    ],
    ids=["brace", "string", "array", "number", "type", "missing", "extra", "megabytes"],
)
def test_bad_arguments_answer_with_the_same_id(arguments: str, expected: str) -> None:
    answer = prepare(REGISTRY, call("add", arguments, id="c3"))
    assert isinstance(answer, Message)
    assert answer.tool_call_id == "c3"
    assert answer.text.startswith("Error: ")
    assert expected in answer.text
    with pytest.raises(ToolArgumentsError) as info:
        prepare(REGISTRY, call("add", arguments, id="c3"), on_error="raise")
    assert (info.value.tool, info.value.tool_call_id) == ("add", "c3")
    assert expected in str(info.value)
    assert CALLS == []


# -- run -----------------------------------------------------------------------------


def test_run_answers_with_the_output() -> None:
    answer = run(ready("add", '{"a": 2, "b": 3}', id="c4"))
    assert answer == Message.tool("5", tool_call_id="c4")


def test_a_raising_tool_becomes_a_message_or_raises_with_cause() -> None:
    answer = run(ready("boom", '{"reason": "disk full"}'))
    assert answer.text == "Error: the tool boom raised ValueError: disk full"
    assert answer.tool_call_id == "call_1"
    with pytest.raises(ToolExecutionError) as info:
        run(ready("boom", '{"reason": "disk full"}'), on_error="raise")
    assert isinstance(info.value.__cause__, ValueError)
    assert info.value.tool == "boom"


def test_a_tool_raising_timeout_error_is_not_a_timeout() -> None:
    def waits() -> None:
        raise TimeoutError("upstream")

    t = Tool(waits, timeout=5)
    answer = run(PreparedCall(call("waits", "{}"), t, {}))
    assert answer.text == "Error: the tool waits raised TimeoutError: upstream"


def test_sync_tool_timeout() -> None:
    release = threading.Event()

    def stuck() -> str:
        release.wait(10)
        return "late"

    prepared = PreparedCall(call("stuck", "{}"), Tool(stuck, timeout=0.05), {})
    try:
        answer = run(prepared)
        assert answer.text.startswith("Error: the tool stuck did not finish within 0.05 seconds;")
        with pytest.raises(ToolTimeoutError) as info:
            run(prepared, on_error="raise")
        assert info.value.tool_call_id == "call_1"
    finally:
        release.set()


def test_default_timeout_applies_when_the_tool_has_none() -> None:
    release = threading.Event()

    def stuck() -> str:
        release.wait(10)
        return "late"

    try:
        answer = run(PreparedCall(call("stuck", "{}"), Tool(stuck), {}), default_timeout=0.05)
        assert "did not finish within 0.05 seconds" in answer.text
    finally:
        release.set()


def test_async_tool_from_sync_code() -> None:
    assert run(ready("slow_echo", '{"text": "hi"}')).text == "hi"


def test_async_tool_timeout_from_sync_code() -> None:
    async def forever() -> None:
        await asyncio.Event().wait()

    answer = run(PreparedCall(call("forever", "{}"), Tool(forever, timeout=0.05), {}))
    assert answer.text.endswith("within 0.05 seconds; it was cancelled")


async def test_sync_run_inside_a_running_loop_still_runs_async_tools() -> None:
    assert run(ready("slow_echo", '{"text": "nested"}')).text == "nested"


def test_approve_refusing_runs_nothing() -> None:
    seen: list[PreparedCall] = []

    def approve(prepared: PreparedCall) -> bool:
        seen.append(prepared)
        return False

    prepared = ready("add", '{"a": 1, "b": 1}')
    answer = run(prepared, approve=approve)
    assert answer.text == "Error: the user refused this call to add; it was not run"
    assert answer.tool_call_id == "call_1"
    assert seen == [prepared]
    assert CALLS == []
    with pytest.raises(ToolRefusedError):
        run(prepared, approve=approve, on_error="raise")
    assert CALLS == []


def test_async_hooks_work_from_sync_code() -> None:
    results: list[tuple[str, str]] = []

    async def approve(prepared: PreparedCall) -> bool:
        return prepared.arguments["a"] > 0

    async def on_result(prepared: PreparedCall, message: Message) -> None:
        results.append((prepared.call.id, message.text))

    run(ready("add", '{"a": 1, "b": 1}', id="ok"), approve=approve, on_result=on_result)
    run(ready("add", '{"a": -1, "b": 1}', id="no"), approve=approve, on_result=on_result)
    assert results[0] == ("ok", "2")
    assert results[1][0] == "no" and "refused" in results[1][1]


def test_on_result_sees_errors_too() -> None:
    seen: list[Message] = []
    run(ready("boom", '{"reason": "x"}'), on_result=lambda p, m: seen.append(m))
    assert len(seen) == 1 and seen[0].text.startswith("Error: the tool boom raised")


def test_run_all_answers_each_call_once_in_order_approving_first() -> None:
    events: list[str] = []

    def approve(prepared: PreparedCall) -> bool:
        events.append(f"approve {prepared.call.id}")
        return prepared.call.id != "b"

    def on_result(prepared: PreparedCall, message: Message) -> None:
        events.append(f"result {prepared.call.id}")

    calls = [
        ready("add", '{"a": 1, "b": 2}', id="a"),
        ready("add", '{"a": 3, "b": 4}', id="b"),
        ready("boom", '{"reason": "r"}', id="c"),
        ready("slow_echo", '{"text": "t"}', id="d"),
    ]
    answers = run_all(calls, approve=approve, on_result=on_result)
    assert [m.tool_call_id for m in answers] == ["a", "b", "c", "d"]
    assert answers[0].text == "3" and "refused" in answers[1].text
    assert answers[2].text.startswith("Error:") and answers[3].text == "t"
    assert events[:4] == ["approve a", "approve b", "approve c", "approve d"]
    assert events[4:] == ["result a", "result b", "result c", "result d"]
    assert CALLS == ["add"]


# -- output --------------------------------------------------------------------------


class Weather(BaseModel):
    city: str
    temp: float


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Opaque:
    def __str__(self) -> str:
        return "<opaque>"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain", "plain"),
        ("", ""),
        (None, "null"),
        (42, "42"),
        ({"ok": True, "list": [1, 2]}, '{"ok":true,"list":[1,2]}'),
        (Weather(city="Oslo", temp=-3.5), '{"city":"Oslo","temp":-3.5}'),
        (Point(1, 2), '{"x":1,"y":2}'),
        (datetime.datetime(2025, 5, 1, 12, 30), '"2025-05-01T12:30:00"'),
        ({"o": Opaque()}, '{"o":"<opaque>"}'),
        ("naïve ☃", "naïve ☃"),
    ],
)
def test_output_is_text_or_json(value: Any, text: str) -> None:
    assert to_text(value) == text

    def give() -> Any:
        return value

    assert run(PreparedCall(call("give", "{}"), Tool(give), {})).text == text


def test_unserializable_output_is_an_error_message() -> None:
    loop: list[Any] = []
    loop.append(loop)

    def give() -> Any:
        return loop

    answer = run(PreparedCall(call("give", "{}"), Tool(give), {}))
    assert answer.text.startswith("Error: the tool give returned a value that cannot be written")
    with pytest.raises(ToolExecutionError):
        run(PreparedCall(call("give", "{}"), Tool(give), {}), on_error="raise")
