"""arun_all: calls run concurrently, answers come back in call order, timeouts hold."""

from __future__ import annotations

import asyncio
import threading

import pytest

from convo.errors import ToolExecutionError, ToolTimeoutError
from convo.messages import FunctionCall, Message, ToolCall
from convo.tools import PreparedCall, Tool, arun_all

GUARD = 5.0  # seconds: only reached if the code under test is broken (then the test fails)


def prepared(
    fn: object, id: str, *, timeout: float | None = GUARD, **arguments: object
) -> PreparedCall:
    tool = Tool(fn, timeout=timeout)  # type: ignore[arg-type]
    return PreparedCall(ToolCall(id=id, function=FunctionCall(name=tool.name)), tool, arguments)


async def test_async_tools_run_concurrently() -> None:
    barrier = asyncio.Barrier(2)

    async def meet(who: str) -> str:
        await barrier.wait()  # both must be waiting at once, or this never returns
        return who

    answers = await arun_all([prepared(meet, "a", who="a"), prepared(meet, "b", who="b")])
    assert [(m.tool_call_id, m.text) for m in answers] == [("a", "a"), ("b", "b")]


async def test_sync_tools_run_concurrently_in_threads() -> None:
    barrier = threading.Barrier(2, timeout=GUARD)

    def meet(who: str) -> str:
        barrier.wait()
        return who

    answers = await arun_all([prepared(meet, "a", who="a"), prepared(meet, "b", who="b")])
    assert [m.text for m in answers] == ["a", "b"]


async def test_answers_keep_call_order_when_calls_finish_in_reverse() -> None:
    second_done = threading.Event()
    finished: list[str] = []

    def first() -> str:
        assert second_done.wait(GUARD)
        finished.append("first")
        return "1"

    async def second() -> str:
        finished.append("second")
        second_done.set()
        return "2"

    answers = await arun_all([prepared(first, "x"), prepared(second, "y")])
    assert finished == ["second", "first"]
    assert [(m.tool_call_id, m.text) for m in answers] == [("x", "1"), ("y", "2")]


async def test_per_tool_timeouts_async_and_sync() -> None:
    release = threading.Event()

    async def hangs() -> None:
        await asyncio.Event().wait()

    def blocks() -> None:
        release.wait(GUARD)

    async def quick() -> str:
        return "done"

    try:
        answers = await arun_all(
            [prepared(hangs, "a", timeout=0.05), prepared(blocks, "b", timeout=0.05),
             prepared(quick, "c")]
        )  # fmt: skip
    finally:
        release.set()
    assert answers[0].text.endswith("hangs did not finish within 0.05 seconds; it was cancelled")
    assert answers[1].text == (
        "Error: the tool blocks did not finish within 0.05 seconds; "
        "it keeps running in the background and may still complete"
    )
    assert answers[2].text == "done"


async def test_default_timeout_and_timeout_raise_policy() -> None:
    async def hangs() -> None:
        await asyncio.Event().wait()

    with pytest.raises(ToolTimeoutError) as info:
        await arun_all([prepared(hangs, "t", timeout=None)], default_timeout=0.05, on_error="raise")
    assert (info.value.tool, info.value.tool_call_id) == ("hangs", "t")


async def test_a_timed_out_async_tool_is_cancelled() -> None:
    cancelled = asyncio.Event()

    async def hangs() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    await arun_all([prepared(hangs, "a", timeout=0.05)])
    assert cancelled.is_set()


async def test_raise_policy_cancels_the_other_calls() -> None:
    cancelled = asyncio.Event()
    started = asyncio.Event()

    async def waits() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def fails() -> None:
        await started.wait()
        raise RuntimeError("no")

    with pytest.raises(ToolExecutionError) as info:
        await arun_all([prepared(waits, "w"), prepared(fails, "f")], on_error="raise")
    assert info.value.tool_call_id == "f"
    assert isinstance(info.value.__cause__, RuntimeError)
    assert cancelled.is_set()


async def test_errors_are_answers_under_the_return_policy() -> None:
    async def fails() -> None:
        raise KeyError("k")

    def fine() -> int:
        return 1

    answers = await arun_all([prepared(fails, "a"), prepared(fine, "b")])
    assert answers[0].text == "Error: the tool fails raised KeyError: 'k'"
    assert answers[1].text == "1"


async def test_sync_and_async_hooks_approvals_first_then_results() -> None:
    events: list[str] = []

    async def approve(p: PreparedCall) -> bool:
        events.append(f"approve {p.call.id}")
        return p.call.id != "b"

    def on_result(p: PreparedCall, message: Message) -> None:
        events.append(f"result {p.call.id}")

    ran: list[str] = []

    def work(name: str) -> str:
        ran.append(name)
        return name

    answers = await arun_all(
        [prepared(work, "a", name="a"), prepared(work, "b", name="b")],
        approve=approve,
        on_result=on_result,
    )
    assert events[:2] == ["approve a", "approve b"]
    assert sorted(events[2:]) == ["result a", "result b"]
    assert ran == ["a"]
    assert answers[1].text == "Error: the user refused this call to work; it was not run"
    assert [m.tool_call_id for m in answers] == ["a", "b"]


async def test_async_on_result_is_awaited() -> None:
    seen: list[str] = []

    async def on_result(p: PreparedCall, message: Message) -> None:
        await asyncio.sleep(0)
        seen.append(message.text)

    async def value() -> dict[str, int]:
        return {"n": 1}

    await arun_all([prepared(value, "a")], on_result=on_result)
    assert seen == ['{"n":1}']


async def test_no_calls_no_answers() -> None:
    assert await arun_all([]) == []
