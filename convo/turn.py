"""One turn of a conversation, written once and without I/O.

:func:`run_turn` is a generator that owns every decision of a turn. It yields what
it needs done and receives the result:

=====================  ============================================  ==================
effect                 the driver does                               and sends back
=====================  ============================================  ==================
:class:`CallModel`     ``transport.complete(request)``               the ``Reply``
:class:`OpenStream`    ``transport.stream(request)``, kept open      nothing
``NEXT_CHUNK``         reads the open stream's next chunk            the chunk, or None
``TextDelta``          hands it to the caller, then reads on         the next chunk
``CLOSE_STREAM``       closes the open stream                        nothing
:class:`Approve`       asks the approval hook about each call        the verdicts
:class:`RunTools`      runs the approved calls                       their tool messages
:class:`Emit`          hands the event to the caller (streams)       nothing
:class:`Commit`        store first, then memory (one step)           the new version
=====================  ============================================  ==================

The last event of every turn is :class:`~convo.events.Finished`, carrying the reply:
sync and async drivers return the reply the same way. Nothing the turn produces is
applied before ``Commit``, so a failure anywhere, a closed stream or a cancelled task
leaves the conversation as it was; a ``Commit`` whose base is stale is refused.

Like ``httpx.Auth.auth_flow``, the drivers never re-implement any of this.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from convo.budget import fit
from convo.errors import (
    ContentFilterError,
    ConvoError,
    ParameterError,
    ParseError,
    ProtocolError,
    ToolArgumentsError,
    ToolRefusedError,
    ToolRoundsExceededError,
    TruncatedError,
)
from convo.events import (
    Finished,
    ModelCall,
    PartialOutput,
    TextDelta,
    ToolCallEvent,
    ToolResultEvent,
)
from convo.messages import Message, ToolCall
from convo.pending import DEFER, Awaiting, PendingCall
from convo.reply import Reply, Usage, add_usage
from convo.request import Request
from convo.saved import header_metadata
from convo.store.base import ConversationHeader, TurnMeta
from convo.streaming import StreamAssembler
from convo.structured import OutputSpec
from convo.summary import Strategy, Summary, summarize
from convo.tokens import TokenCounter
from convo.tools import PreparedCall, ToolRegistry, prepare
from convo.wire import build_body, message_to_wire, snippet

__all__ = [
    "CLOSE_STREAM",
    "NEXT_CHUNK",
    "Approve",
    "CallModel",
    "Commit",
    "CommitPlan",
    "Emit",
    "OpenStream",
    "RunTools",
    "ToolTokens",
    "TurnContext",
    "build_request",
    "run_turn",
]

logger = logging.getLogger("convo")


# -- effects -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallModel:
    """Send ``request`` and answer with the whole :class:`~convo.Reply`."""

    request: Request


@dataclass(frozen=True, slots=True)
class OpenStream:
    """Open a stream for ``request``; then answer each ``NEXT_CHUNK`` with a chunk."""

    request: Request


class _Signal:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: Read the open stream's next chunk (``None`` once it has ended).
NEXT_CHUNK = _Signal("NEXT_CHUNK")
#: Close the open stream (the driver also closes it if the turn ends any other way).
CLOSE_STREAM = _Signal("CLOSE_STREAM")


@dataclass(frozen=True, slots=True)
class Approve:
    """Ask ``hook`` about each call, in order; answer with what it returned for each."""

    calls: tuple[PreparedCall, ...]
    hook: Callable[..., Any]


@dataclass(frozen=True, slots=True)
class RunTools:
    """Run these approved calls; answer with one ``tool`` message each, in order."""

    calls: tuple[PreparedCall, ...]
    on_result: Callable[..., Any] | None = None
    on_error: Literal["return", "raise"] = "return"
    timeout: float | None = None
    count_tokens: Callable[[str], int] | None = None


@dataclass(frozen=True, slots=True)
class Emit:
    """Hand ``event`` to whoever iterates the turn; answer with nothing."""

    event: Any


@dataclass(frozen=True, slots=True)
class CommitPlan:
    """Everything a turn writes, as one value: applied whole or not at all.

    ``messages`` join the history; ``store_messages`` (the conversation's unsaved
    initial messages first) are what the store appends in one transaction with
    ``meta``, the header's new ``metadata`` (if it changed) and ``create`` (the
    header, for the first turn). The turn was built on ``base_version`` and a history
    of ``base_length`` messages: committing on anything else is a conflict.
    """

    base_version: int
    base_length: int
    messages: tuple[Message, ...]
    store_messages: tuple[Message, ...]
    meta: TurnMeta
    metadata: dict[str, Any] | None = None
    create: ConversationHeader | None = None
    summary: Summary | None = None
    awaiting: Awaiting | None = None


@dataclass(frozen=True, slots=True)
class Commit:
    """Commit ``plan``: the store first, then memory; answer with the new version."""

    plan: CommitPlan


Effect = CallModel | OpenStream | _Signal | TextDelta | Approve | RunTools | Emit | Commit


# -- what a turn reads ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TurnContext:
    """Everything a turn reads, as a snapshot: the turn never mutates the conversation.

    ``history`` is a bounded view of the conversation's history as it was when the
    turn began (``version``), so turns committed meanwhile cannot leak into it.
    """

    model: str
    params: dict[str, Any]
    pinned: tuple[Message, ...]
    history: Sequence[Message]
    counter: TokenCounter
    budget: int
    window: int = 0
    version: int = 0
    stream: bool = False
    tools: ToolRegistry | None = None
    external: tuple[dict[str, Any], ...] = ()
    max_tool_rounds: int = 10
    on_max_tool_rounds: Literal["raise", "answer"] = "raise"
    tool_errors: Literal["return", "raise"] = "return"
    tool_timeout: float | None = None
    approve: Callable[..., Any] | None = None
    on_tool_result: Callable[..., Any] | None = None
    output: OutputSpec | None = None
    output_mode: Literal["json_schema", "json_object", "tools"] = "json_schema"
    output_retries: int = 2
    strategy: Strategy | None = None
    summary: Summary | None = None
    choose: Any = None  # int, or a callable picking a choice index from a Reply
    awaiting: Awaiting | None = None
    cancel_pending: bool = False
    unsaved: tuple[Message, ...] = ()
    create: ConversationHeader | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    template: tuple[str | None, str | None] = (None, None)
    started: float = 0.0
    tool_tokens: ToolTokens | None = None
    offset: int = 0  # where ``history`` begins in the stored history (a loaded tail)


ToolParts = tuple[tuple[dict[str, Any], ...], ...]


def _request_parts(ctx: TurnContext) -> tuple[dict[str, Any], ToolParts]:
    params = ctx.params
    parts: ToolParts = (ctx.tools.schemas() if ctx.tools else (), ctx.external)
    if ctx.output is not None:
        params = {**params, **ctx.output.request_params(ctx.output_mode)}
        if "tools" in params:  # the forced output function travels as a tool
            parts = (*parts, tuple(params.pop("tools")))
    return params, parts


class ToolTokens:
    """The tool schemas' token count, remembered while the schemas stay the same objects.

    Counting serializes every schema (about 9 us per tool, measured: 50 tools made a
    request cost 720 us instead of 140 us); a registry keeps its schema tuple until it
    changes, so one remembered value per conversation keeps building a request flat in
    the number of tools. It is one immutable tuple, replaced whole: never shared between
    conversations, safe between threads.
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: tuple[ToolParts, str, bool, int] | None = None

    def __call__(self, counter: TokenCounter, parts: ToolParts, has_system: bool) -> int:
        last = self._last
        if (
            last is not None
            and last[1] == counter.key
            and last[2] == has_system
            and len(last[0]) == len(parts)
            and all(a is b for a, b in zip(last[0], parts, strict=True))
        ):
            return last[3]
        tools = tuple(t for part in parts for t in part)
        value = counter.tools(tools, has_system=has_system) if tools else 0
        self._last = (parts, counter.key, has_system, value)
        return value


def build_request(
    ctx: TurnContext, pending: Sequence[Message], summary: Summary | None = None
) -> Request:
    """The request for ``pending`` on top of the history, fitted to the budget. Pure."""
    params, parts = _request_parts(ctx)
    tools = tuple(t for part in parts for t in part)
    pinned = ctx.pinned
    if ctx.output is not None and (note := ctx.output.instructions(ctx.output_mode)):
        pinned = (*pinned, Message.system(note))
    summary = summary or ctx.summary
    skip = 0
    if summary is not None:
        pinned = (*pinned, summary.message)
        skip = summary.covers
    count = ctx.tool_tokens or ToolTokens()
    tools_tokens = count(ctx.counter, parts, bool(pinned)) if tools else 0
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
    history_wire = getattr(ctx.history, "wire", None)
    if history_wire is not None:  # slice the kept history's cached dicts
        start = skip + len(fitted.dropped)
        wire = [
            *map(message_to_wire, pinned),
            *history_wire(start),
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


# -- the turn -------------------------------------------------------------------------


class _Turn:
    """What the turn has spent so far (every model call's usage, summed) and where it
    stands: the history length it began on, where its first message is in the history
    (earlier, for a turn resumed after a suspension), and how many of its messages were
    already committed by the turn it resumes."""

    __slots__ = ("base_length", "calls", "carried", "start", "usage")

    def __init__(self, base_length: int, start: int, carried: int = 0) -> None:
        self.usage: Usage | None = None
        self.calls = 0
        self.base_length = base_length
        self.start = start
        self.carried = carried

    def add(self, reply: Reply) -> None:
        self.calls += 1
        self.usage = add_usage(self.usage, reply.usage)


def run_turn(
    ctx: TurnContext, new: Sequence[Message], resolutions: Sequence[tuple[str, bool]] = ()
) -> Generator[Effect, Any, Reply]:
    """The whole turn: ask, run tools, re-ask, validate, commit; the reply is returned
    and also emitted last, as :class:`~convo.events.Finished`.

    ``new`` is the user's new messages, or ``tool`` results for calls that a suspended
    turn awaits; ``resolutions`` are ``(tool_call_id, approved)`` for deferred approvals.
    """
    _check_choose(ctx)
    turn = _Turn(len(ctx.history), len(ctx.history))
    pending: list[Message] = []
    results, new = _split_results(new)
    awaiting = ctx.awaiting
    if awaiting is None and (results or resolutions):
        ids = [r.tool_call_id for r in results] + [cid for cid, _ in resolutions]
        raise ToolArgumentsError(
            f"no tool call awaits an answer; got answers for {', '.join(map(repr, ids))}",
            tool_call_id=ids[0],
        )
    if awaiting is not None:
        if results or resolutions:
            resolved = yield from _resolve(ctx, awaiting, resolutions)
            answers, rest = awaiting.answer(results, resolved)
            if rest is not None:  # some calls still wait: record what arrived
                return (yield from _suspend(ctx, turn, [], rest, ctx.summary))
        elif ctx.cancel_pending:
            answers = awaiting.cancel()
        else:
            raise awaiting.blocked()
        # The suspended turn's messages are sent again with their answers, as one unit.
        carried = list(ctx.history[awaiting.start :])
        turn.start, turn.carried = awaiting.start, len(carried)
        history = ctx.history
        head = getattr(history, "head", None)
        ctx = replace(
            ctx,
            history=head(awaiting.start) if head else history[: awaiting.start],
        )
        pending = [*carried, *answers]
    pending.extend(new)
    summary = ctx.summary
    made = yield from summarize(ctx, pending, turn, build_request, CallModel)
    if made is not None:
        summary = made
    rounds = retries = 0
    reason: Literal["turn", "tool_round", "output_retry"] = "turn"
    tools_mode = ctx.output is not None and ctx.output_mode == "tools"
    while True:
        request = build_request(ctx, pending, summary)
        if ctx.stream:
            yield Emit(ModelCall(reason, request))
        reply = _pick(ctx, (yield from _call(ctx, request)), request)
        turn.add(reply)
        message = reply.message
        output_call = _output_call(ctx, message) if tools_mode else None
        if message.tool_calls and reply.finish_reason == "length":
            # The arguments may be cut anywhere: running the tool would act on a guess.
            raise TruncatedError(
                "the reply was cut off (finish_reason 'length') inside a tool call"
            )
        if message.tool_calls and output_call is None:
            rounds += 1
            if rounds > ctx.max_tool_rounds:
                raise ToolRoundsExceededError(
                    f"the model still called tools after max_tool_rounds={ctx.max_tool_rounds}"
                )
            pending.append(message)
            answers, waiting = yield from _answer(ctx, message, turn.start)
            if waiting is not None:
                return (yield from _suspend(ctx, turn, pending, waiting, summary, reply))
            pending.extend(answers)
            ctx = _after_tool_round(ctx)
            if rounds == ctx.max_tool_rounds and ctx.on_max_tool_rounds == "answer":
                # The last round is spent: ask for a final answer, with no more calls.
                ctx = replace(ctx, params={**ctx.params, "tool_choice": "none"})
            reason = "tool_round"
            continue
        if ctx.output is None:
            pending.append(message)
            break
        if output_call is not None:
            # Keep the JSON as the assistant's text: a stored tool call without an
            # answer would break the sequence, and the history should show the JSON.
            message = Message.assistant(output_call.function.arguments)
            reply = _replace_message(reply, message)
        if reply.finish_reason == "content_filter":
            raise ContentFilterError(
                "the reply was stopped by the content filter (finish_reason 'content_filter')"
            )
        pending.append(message)
        try:
            parsed = ctx.output.parse(message, reply.finish_reason)
        except ParseError as exc:
            if retries >= ctx.output_retries:
                raise
            retries += 1
            pending.append(ctx.output.feedback(exc))
            reason = "output_retry"
            continue
        reply = reply.model_copy(update={"parsed": parsed})
        break
    reply = reply.model_copy(update={"turn_usage": turn.usage})
    yield Commit(_plan(ctx, turn, pending, reply, summary))
    if ctx.stream and ctx.output is not None:
        yield Emit(PartialOutput(reply.parsed, final=True))
    yield Emit(Finished(reply))
    return reply


def _call(ctx: TurnContext, request: Request) -> Generator[Effect, Any, Reply]:
    """One model call; a streamed one is read chunk by chunk, its text emitted."""
    if not request.stream:
        reply: Reply = yield CallModel(request)
        return reply
    yield OpenStream(request)
    chosen = ctx.choose if isinstance(ctx.choose, int) else 0
    asm = StreamAssembler(choice=chosen)
    output = ctx.output
    chunk = yield NEXT_CHUNK
    while chunk is not None:
        try:
            delta = asm.feed(chunk)
        except ConvoError:
            raise
        except Exception as exc:  # a malformed chunk is the server's fault, said as such
            raise ProtocolError(
                f"a stream chunk is not a chat.completion.chunk ({type(exc).__name__}: {exc})",
                snippet=snippet(chunk),
            ) from None
        if not delta:
            chunk = yield NEXT_CHUNK
        elif output is None:
            # The hot path of a stream: one effect hands the text over and reads on.
            chunk = yield TextDelta(delta)
        else:
            yield Emit(TextDelta(delta))
            partial = output.partial_value(asm.text)
            if partial is not None:
                yield Emit(PartialOutput(partial))
            chunk = yield NEXT_CHUNK
    yield CLOSE_STREAM
    return asm.finish()


def _check_choose(ctx: TurnContext) -> None:
    # Checked before anything is paid for: an index that cannot exist, or a callable
    # choice on a stream whose deltas must be known before the reply is complete.
    choose = ctx.choose
    if choose is None:
        return
    n = ctx.params.get("n", 1)
    if isinstance(choose, bool) or not (isinstance(choose, int) or callable(choose)):
        raise ParameterError(
            f"choose must be a choice index or a callable, got {choose!r}", param="choose"
        )
    if isinstance(choose, int) and not 0 <= choose < n:
        raise ParameterError(
            f"choose={choose} but the request asks for n={n} choices (0..{n - 1})",
            param="choose",
        )
    if callable(choose) and ctx.stream and n > 1:
        raise ParameterError(
            "a callable choose cannot be streamed: the deltas shown must be the chosen "
            "choice's, known only once every choice is complete; pass an index",
            param="choose",
        )


def _pick(ctx: TurnContext, reply: Reply, request: Request) -> Reply:
    choose = ctx.choose
    if callable(choose):
        try:
            chosen = choose(reply)
        except ConvoError:
            raise
        except Exception as exc:
            raise ParameterError(
                f"the choose callable raised {type(exc).__name__}: {exc}", param="choose"
            ) from exc
    else:
        chosen = choose or 0
    if isinstance(chosen, bool) or not isinstance(chosen, int):
        raise ParameterError(f"choose returned {chosen!r}, not a choice index", param="choose")
    if not 0 <= chosen < len(reply.choices):
        raise ProtocolError(
            f"choice {chosen} does not exist; the reply has {len(reply.choices)} choices"
        )
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


def _output_call(ctx: TurnContext, message: Message) -> ToolCall | None:
    """In ``output_mode="tools"``: the call to the output tool, if it is the only kind."""
    calls = message.tool_calls or ()
    assert ctx.output is not None
    name = ctx.output.name
    if calls and all(c.function.name == name for c in calls):
        return calls[0]
    return None


def _answer(
    ctx: TurnContext, message: Message, start: int
) -> Generator[Effect, Any, tuple[list[Message], Awaiting | None]]:
    """One tool message per call, in call order, or what the round still awaits."""
    calls = message.tool_calls or ()
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
            slots.append(prepare(registry, call, on_error=ctx.tool_errors))
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
        runnable = [s for s in slots if isinstance(s, PreparedCall)]
    ran: list[Message] = []
    if runnable:
        ran = list(
            (
                yield RunTools(
                    tuple(runnable),
                    on_result=ctx.on_tool_result,
                    on_error=ctx.tool_errors,
                    timeout=ctx.tool_timeout,
                    count_tokens=ctx.counter.text,
                )
            )
        )
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


def _refused(ctx: TurnContext, prepared: PreparedCall) -> Message:
    error = ToolRefusedError(
        f"the user refused this call to {prepared.tool.name}; it was not run",
        tool=prepared.tool.name,
        tool_call_id=prepared.call.id,
    )
    if ctx.tool_errors == "raise":
        raise error
    return Message.tool(f"Error: {error}", tool_call_id=prepared.call.id)


def _resolve(
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
            runnable.append(slot)
        else:
            made.append(_refused(ctx, slot))
    if runnable:
        made.extend(
            (
                yield RunTools(
                    tuple(runnable),
                    on_result=ctx.on_tool_result,
                    on_error=ctx.tool_errors,
                    timeout=ctx.tool_timeout,
                    count_tokens=ctx.counter.text,
                )
            )
        )
    return made


def _suspend(
    ctx: TurnContext,
    turn: _Turn,
    pending: list[Message],
    awaiting: Awaiting,
    summary: Summary | None,
    reply: Reply | None = None,
) -> Generator[Effect, Any, Reply]:
    """End the turn awaiting results or approvals: committed, with what it awaits."""
    reply = awaiting.reply(reply).model_copy(update={"turn_usage": turn.usage})
    yield Commit(_plan(ctx, turn, pending, reply, summary, awaiting=awaiting))
    yield Emit(Finished(reply))
    return reply


def _plan(
    ctx: TurnContext,
    turn: _Turn,
    pending: Sequence[Message],
    reply: Reply,
    summary: Summary | None,
    *,
    awaiting: Awaiting | None = None,
) -> CommitPlan:
    changed = summary is not ctx.summary or awaiting != ctx.awaiting
    metadata = (
        header_metadata(ctx.metadata, summary, awaiting, offset=ctx.offset) if changed else None
    )
    name, digest = ctx.template
    meta = TurnMeta(
        usage=turn.usage,
        model=reply.model or ctx.model,
        params=ctx.params,
        finish_reason=reply.finish_reason,
        latency_ms=(time.perf_counter() - ctx.started) * 1000 if ctx.started else None,
        template_name=name,
        template_hash=digest,
    )
    messages = tuple(pending[turn.carried :])
    return CommitPlan(
        base_version=ctx.version,
        base_length=turn.base_length,
        messages=messages,
        store_messages=(*ctx.unsaved, *messages),
        meta=meta,
        metadata=metadata,
        create=ctx.create,
        summary=summary if summary is not ctx.summary else None,
        awaiting=awaiting,
    )


def _split_results(new: Sequence[Message]) -> tuple[list[Message], list[Message]]:
    results = [m for m in new if m.role == "tool"]
    if results and len(results) != len(new):
        raise ToolArgumentsError(
            "tool results and new messages cannot be sent together: send the results, "
            "then the next message",
            tool_call_id=results[0].tool_call_id,
        )
    return results, ([] if results else list(new))


def _ids(messages: Sequence[Message]) -> list[str]:
    return [repr(m.tool_call_id) for m in messages]


def _after_tool_round(ctx: TurnContext) -> TurnContext:
    # A forced tool_choice ("required", or one named function) means "call it now";
    # kept for the next round it would force the same call forever. As in the OpenAI
    # Agents SDK, the rounds after the first go back to "auto".
    choice = ctx.params.get("tool_choice")
    if choice == "required" or isinstance(choice, dict):
        return replace(ctx, params={**ctx.params, "tool_choice": "auto"})
    return ctx


def _replace_message(reply: Reply, message: Message) -> Reply:
    choices = list(reply.choices)
    choices[reply.chosen] = choices[reply.chosen].model_copy(update={"message": message})
    return reply.model_copy(update={"choices": tuple(choices)})
