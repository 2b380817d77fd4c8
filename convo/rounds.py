"""A tool round of a turn: every call answered once, in call order, or awaited.

Calls to registered tools are validated, put to the approval hook (only ``True`` runs
a call; :data:`~convo.pending.DEFER` suspends it) and run; calls to external tools,
and deferred ones, are awaited. A call that repeats an earlier call of the turn to a
tool marked not idempotent (same name, same arguments) runs only if approved. Pure
steps of :func:`convo.turn.run_turn`: they yield effects and make no I/O.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import orjson

from convo.effects import Approve, Effect, Emit, RunTools
from convo.errors import ProtocolError, ToolRefusedError
from convo.events import ToolCallEvent, ToolResultEvent
from convo.messages import Message, ToolCall
from convo.pending import DEFER, Awaiting, PendingCall
from convo.tools import PreparedCall, ToolRegistry, prepare

if TYPE_CHECKING:
    from convo.turn import TurnContext

__all__ = ["after_tool_round", "answer_round", "output_call", "resolve_approvals"]


def _run(ctx: TurnContext, runnable: Sequence[PreparedCall]) -> RunTools:
    return RunTools(
        tuple(runnable),
        on_result=ctx.on_tool_result,
        on_error=ctx.tool_errors,
        timeout=ctx.tool_timeout,
        count_tokens=ctx.counter.text,
    )


def output_call(ctx: TurnContext, message: Message) -> ToolCall | None:
    """In ``output_mode="tools"``: the call to the output tool, if it is the only kind."""
    calls = message.tool_calls or ()
    assert ctx.output is not None
    name = ctx.output.name
    if calls and all(c.function.name == name for c in calls):
        return calls[0]
    return None


def answer_round(
    ctx: TurnContext, message: Message, start: int, earlier: Sequence[Message] = ()
) -> Generator[Effect, Any, tuple[list[Message], Awaiting | None]]:
    """One tool message per call, in call order, or what the round still awaits.

    ``earlier`` are the turn's messages before this one: the calls they hold are what a
    call to a tool that is not idempotent must not silently repeat.
    """
    calls = message.tool_calls or ()
    seen = _keys(c for m in earlier if m is not message for c in m.tool_calls or ())
    repeats: set[int] = set()  # indexes of slots that repeat an earlier call
    registry = ctx.tools or ToolRegistry()
    external = {t["function"]["name"] for t in ctx.external}
    output = ctx.output.name if ctx.output is not None else None
    slots: list[Message | PreparedCall | PendingCall] = []
    for call in calls:
        if call.function.name in external and call.function.name not in registry:
            slots.append(PendingCall(call, "result"))
        elif call.function.name == output:
            slots.append(
                Message.tool(
                    f"Not run: {output} gives the final answer; call it on its own, after "
                    "the other calls are answered.",
                    tool_call_id=call.id,
                )
            )
        else:
            slot = prepare(registry, call, on_error=ctx.tool_errors)
            if isinstance(slot, PreparedCall) and not slot.tool.idempotent:
                key = _key(call)
                if key in seen:
                    repeats.add(len(slots))
                seen.add(key)
            slots.append(slot)
    if ctx.stream:
        for call in calls:
            yield Emit(ToolCallEvent(call))
    runnable = [s for s in slots if isinstance(s, PreparedCall)]
    if runnable and ctx.approve is not None:
        verdicts = yield Approve(tuple(runnable), ctx.approve)
        for prepared, verdict in zip(runnable, verdicts, strict=True):
            i = slots.index(prepared)
            if verdict is DEFER:
                slots[i] = PendingCall(prepared.call, "approval")
            elif verdict is not True:  # only an explicit True runs a call
                slots[i] = _refused(ctx, prepared)
            else:
                slots[i] = replace(prepared, approved=True)
    for i in repeats:
        repeat = slots[i]
        if isinstance(repeat, PreparedCall) and not repeat.approved:
            slots[i] = _repeat(repeat)
    runnable = [s for s in slots if isinstance(s, PreparedCall)]
    ran: list[Message] = []
    if runnable:
        ran = list((yield _run(ctx, runnable)))
        if len(ran) != len(runnable):
            raise ProtocolError(f"{len(runnable)} tool calls ran but {len(ran)} answers came back")
    answers = iter(ran)
    done: list[Message | PendingCall] = [
        next(answers) if isinstance(s, PreparedCall) else s for s in slots
    ]
    if ctx.stream:
        for item in done:
            if isinstance(item, Message):
                yield Emit(ToolResultEvent(item))
    waiting = [s for s in done if isinstance(s, PendingCall)]
    if waiting:
        return [], Awaiting.of(message, done, start)
    return [m for m in done if isinstance(m, Message)], None


def _key(call: ToolCall) -> tuple[str, str]:
    # The same arguments written another way (spacing, key order) are the same call.
    text = call.function.arguments
    with contextlib.suppress(orjson.JSONDecodeError):
        text = orjson.dumps(orjson.loads(text or "{}"), option=orjson.OPT_SORT_KEYS).decode()
    return call.function.name, text


def _keys(calls: Iterable[ToolCall]) -> set[tuple[str, str]]:
    return {_key(c) for c in calls}


def _repeat(prepared: PreparedCall) -> Message:
    name = prepared.tool.name
    return Message.tool(
        f"Not run: this repeats an earlier call to {name} with the same arguments, and "
        f"{name} is not safe to run twice; it runs again only with the user's approval. "
        "Use the earlier result.",
        tool_call_id=prepared.call.id,
    )


def _refused(ctx: TurnContext, prepared: PreparedCall) -> Message:
    error = ToolRefusedError(
        f"the user refused this call to {prepared.tool.name}; it was not run",
        tool=prepared.tool.name,
        tool_call_id=prepared.call.id,
    )
    if ctx.tool_errors == "raise":
        raise error
    return Message.tool(f"Error: {error}", tool_call_id=prepared.call.id)


def resolve_approvals(
    ctx: TurnContext, awaiting: Awaiting, resolutions: Sequence[tuple[str, bool]]
) -> Generator[Effect, Any, list[Message]]:
    """The answers of resolved approvals: approved calls run now, the others refused."""
    registry = ctx.tools or ToolRegistry()
    made: list[Message] = []
    runnable: list[PreparedCall] = []
    for cid, approved in resolutions:
        call = awaiting.approval(cid)
        slot = prepare(registry, call, on_error=ctx.tool_errors)
        if isinstance(slot, Message):
            made.append(slot)
        elif approved is True:
            runnable.append(replace(slot, approved=True))
        else:
            made.append(_refused(ctx, slot))
    if runnable:
        made.extend((yield _run(ctx, runnable)))
    return made


def after_tool_round(ctx: TurnContext) -> TurnContext:
    # A forced tool_choice ("required", or one named function) means "call it now";
    # kept for the next round it would force the same call forever. As in the OpenAI
    # Agents SDK, the rounds after the first go back to "auto".
    choice = ctx.params.get("tool_choice")
    if choice == "required" or isinstance(choice, dict):
        return ctx._replace(params={**ctx.params, "tool_choice": "auto"})
    return ctx
