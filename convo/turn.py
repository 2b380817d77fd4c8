"""One turn of a conversation, written once and without I/O.

:func:`run_turn` is a generator. It yields what it needs done - :class:`CallModel`
(send a request, get a :class:`~convo.Reply` back) or :class:`RunTools` (run
validated tool calls, get their ``tool`` messages back) - and returns a
:class:`TurnResult`: the messages the turn adds and the final reply. The drivers
(``Conversation``, ``AsyncConversation``, and their streaming variants) do the I/O
and commit the result; like ``httpx.Auth.auth_flow``, neither re-implements the logic.

Nothing the turn produces enters the history before the driver commits it, so a
failure anywhere in the turn leaves the conversation exactly as it was.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from convo.budget import History, Strategy, Summarize, fit
from convo.errors import BudgetError, ParseError, ToolRoundsExceededError, TruncatedError
from convo.messages import Message, ToolCall
from convo.reply import Reply
from convo.request import Request
from convo.structured import OutputSpec
from convo.tokens import TokenCounter
from convo.tools import PreparedCall, ToolRegistry, prepare
from convo.wire import build_body, message_to_wire

__all__ = ["CallModel", "RunTools", "TurnContext", "TurnResult", "build_request", "run_turn"]

logger = logging.getLogger("convo")


@dataclass(frozen=True, slots=True)
class CallModel:
    """Effect: send ``request`` to the model (streaming if ``request.stream``)."""

    request: Request


@dataclass(frozen=True, slots=True)
class RunTools:
    """Effect: run these validated calls; answer with one ``tool`` message each, in order.

    ``answered`` holds the answers convo wrote itself for the round's other calls (an
    unknown tool, bad arguments), so that a driver can show every call and its answer.
    """

    calls: tuple[PreparedCall, ...]
    answered: tuple[Message, ...] = ()
    requested: tuple[ToolCall, ...] = ()


Effect = CallModel | RunTools


@dataclass(frozen=True, slots=True)
class Summary:
    """A summary message standing in for the first ``covers`` history messages."""

    message: Message
    covers: int


@dataclass(frozen=True, slots=True)
class TurnResult:
    messages: tuple[Message, ...]
    reply: Reply
    summary: Summary | None = None
    rounds: int = 0


@dataclass(frozen=True, slots=True)
class TurnContext:
    """Everything a turn reads, as a snapshot: the turn never mutates the conversation."""

    model: str
    params: dict[str, Any]
    pinned: tuple[Message, ...]
    history: Sequence[Message]
    counter: TokenCounter
    budget: int
    stream: bool = False
    tools: ToolRegistry | None = None
    max_tool_rounds: int = 10
    on_max_tool_rounds: Literal["raise", "answer"] = "raise"
    tool_errors: Literal["return", "raise"] = "return"
    output: OutputSpec | None = None
    output_mode: Literal["json_schema", "json_object", "tools"] = "json_schema"
    output_retries: int = 2
    strategy: Strategy | None = None
    summary: Summary | None = None
    choose: Any = None  # int, or a callable picking a choice index from a Reply
    extra: dict[str, Any] = field(default_factory=dict)


def _request_parts(ctx: TurnContext) -> tuple[dict[str, Any], tuple[dict[str, Any], ...]]:
    params = ctx.params
    tools = ctx.tools.schemas() if ctx.tools else ()
    if ctx.output is not None:
        params = {**params, **ctx.output.request_params(ctx.output_mode)}
        if "tools" in params:  # the forced output function travels as a tool
            tools = (*tools, *params.pop("tools"))
    return params, tools


def build_request(
    ctx: TurnContext, pending: Sequence[Message], summary: Summary | None = None
) -> Request:
    """The request for ``pending`` on top of the history, fitted to the budget. Pure."""
    params, tools = _request_parts(ctx)
    pinned = ctx.pinned
    if ctx.output is not None and (note := ctx.output.instructions(ctx.output_mode)):
        pinned = (*pinned, Message.system(note))
    summary = summary or ctx.summary
    skip = 0
    if summary is not None:
        pinned = (*pinned, summary.message)
        skip = summary.covers
    tools_tokens = ctx.counter.tools(tools, has_system=bool(pinned)) if tools else 0
    fitted = fit(
        pinned,
        ctx.history,
        pending,
        counter=ctx.counter,
        budget=ctx.budget,
        tools_tokens=tools_tokens,
        skip=skip,
    )
    wire = None
    if isinstance(ctx.history, History):  # slice the kept history's cached dicts
        start = skip + len(fitted.dropped)
        wire = [
            *map(message_to_wire, pinned),
            *ctx.history.wire(start),
            *map(message_to_wire, pending),
        ]
    body = build_body(ctx.model, fitted.messages, params, tools, stream=ctx.stream, wire=wire)
    return Request(
        model=ctx.model,
        messages=fitted.messages,
        body=body,
        stream=ctx.stream,
        tools=tuple(tools),
        prompt_tokens=fitted.prompt_tokens,
        budget=fitted.budget,
        dropped=fitted.dropped,
    )


def _summarize(
    ctx: TurnContext, pending: Sequence[Message]
) -> Generator[Effect, Any, Summary | None]:
    """If the strategy summarizes and history was dropped, make a new summary."""
    strategy = ctx.strategy
    if not isinstance(strategy, Summarize):
        return None
    probe = build_request(ctx, pending)
    if not probe.dropped:
        return None  # everything since the last summary still fits
    # Summarize down to half the budget, so that the next turns have room before a
    # summary is needed again: it is kept, not recomputed every turn.
    # If half is too small for this turn, summarize only what the whole budget drops.
    with contextlib.suppress(BudgetError):
        probe = build_request(replace(ctx, budget=max(ctx.budget // 2, 1)), pending)
    start = ctx.summary.covers if ctx.summary else 0
    covers = start + len(probe.dropped)
    previous = ctx.summary.message if ctx.summary else None
    messages = strategy.request_messages(probe.dropped, previous)
    body = build_body(ctx.model, messages, {"max_tokens": strategy.max_tokens})
    reply = yield CallModel(Request(ctx.model, tuple(messages), body))
    return Summary(strategy.summary_message(reply.text), covers)


def _pick(ctx: TurnContext, reply: Reply, request: Request) -> Reply:
    chosen = ctx.choose(reply) if callable(ctx.choose) else (ctx.choose or 0)
    if not 0 <= chosen < len(reply.choices):
        raise IndexError(f"choice {chosen} does not exist; the reply has {len(reply.choices)}")
    reply = reply.model_copy(
        update={"chosen": chosen, "prompt_tokens_local": request.prompt_tokens}
    )
    if reply.usage is not None and request.prompt_tokens is not None:
        logger.debug(
            "prompt tokens: server %d, local %d (%+d), model %s",
            reply.usage.prompt_tokens,
            request.prompt_tokens,
            reply.usage.prompt_tokens - request.prompt_tokens,
            ctx.model,
        )
    return reply


def run_turn(ctx: TurnContext, new: Sequence[Message]) -> Generator[Effect, Any, TurnResult]:
    """The turn: ask, run tools, re-ask, validate structured output; return what to commit."""
    pending: list[Message] = list(new)
    summary = ctx.summary
    made = yield from _summarize(ctx, pending)
    if made is not None:
        summary = made
    rounds = retries = 0
    tools_mode = ctx.output is not None and ctx.output_mode == "tools"
    while True:
        request = build_request(ctx, pending, summary)
        reply = _pick(ctx, (yield CallModel(request)), request)
        message = reply.message
        if message.tool_calls and reply.finish_reason == "length":
            # The arguments may be cut anywhere: running the tool would act on a guess.
            raise TruncatedError(
                "the reply was cut off (finish_reason 'length') inside a tool call"
            )
        if message.tool_calls and not tools_mode:
            rounds += 1
            if rounds > ctx.max_tool_rounds:
                raise ToolRoundsExceededError(
                    f"the model still called tools after max_tool_rounds={ctx.max_tool_rounds}"
                )
            pending.append(message)
            pending.extend((yield from _answer(ctx, message)))
            ctx = _after_tool_round(ctx)
            if rounds == ctx.max_tool_rounds and ctx.on_max_tool_rounds == "answer":
                # The last round is spent: ask for a final answer, with no more calls.
                ctx = replace(ctx, params={**ctx.params, "tool_choice": "none"})
            continue
        if ctx.output is None:
            pending.append(message)
            return TurnResult(tuple(pending), reply, _changed(summary, ctx.summary), rounds)
        if tools_mode and message.tool_calls:
            # Keep the JSON as the assistant's text: a stored tool call without an
            # answer would break the sequence, and the history should show the JSON.
            message = Message.assistant(message.tool_calls[0].function.arguments)
            reply = _replace_message(reply, message)
        pending.append(message)
        try:
            parsed = ctx.output.parse(message, reply.finish_reason)
        except ParseError as exc:
            if retries >= ctx.output_retries:
                raise
            retries += 1
            pending.append(ctx.output.feedback(exc))
            continue
        reply = reply.model_copy(update={"parsed": parsed})
        return TurnResult(tuple(pending), reply, _changed(summary, ctx.summary), rounds)


def _answer(ctx: TurnContext, message: Message) -> Generator[Effect, Any, list[Message]]:
    """One tool message per call, in call order: errors answered here, the rest run."""
    calls = message.tool_calls or ()
    registry = ctx.tools or ToolRegistry()
    slots: list[Message | PreparedCall] = [
        prepare(registry, call, on_error=ctx.tool_errors) for call in calls
    ]
    runnable = tuple(s for s in slots if isinstance(s, PreparedCall))
    answered = tuple(s for s in slots if isinstance(s, Message))
    results: list[Message] = list((yield RunTools(runnable, answered, tuple(calls))))
    if len(results) != len(runnable):
        raise RuntimeError(f"{len(runnable)} tool calls ran but {len(results)} answers came back")
    answers = iter(results)
    return [next(answers) if isinstance(s, PreparedCall) else s for s in slots]


def _after_tool_round(ctx: TurnContext) -> TurnContext:
    # A forced tool_choice ("required", or one named function) means "call it now";
    # kept for the next round it would force the same call forever. As in the OpenAI
    # Agents SDK, the rounds after the first go back to "auto".
    choice = ctx.params.get("tool_choice")
    if choice == "required" or isinstance(choice, dict):
        return replace(ctx, params={**ctx.params, "tool_choice": "auto"})
    return ctx


def _changed(summary: Summary | None, before: Summary | None) -> Summary | None:
    return summary if summary is not before else None


def _replace_message(reply: Reply, message: Message) -> Reply:
    choices = list(reply.choices)
    choices[reply.chosen] = choices[reply.chosen].model_copy(update={"message": message})
    return reply.model_copy(update={"choices": tuple(choices)})
