"""One turn of a conversation, written once and without I/O.

:func:`run_turn` is a generator that owns every decision of a turn (its tool rounds
are in :mod:`convo.rounds`). It yields what it needs done - the values of
:mod:`convo.effects` - and receives the result:

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
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from convo.budget import fit
from convo.cost import cost_of
from convo.effects import (
    CLOSE_STREAM,
    NEXT_CHUNK,
    CallModel,
    Commit,
    CommitPlan,
    Effect,
    Emit,
    OpenStream,
)
from convo.errors import (
    ContentFilterError,
    ConvoError,
    ParameterError,
    ParseError,
    ProtocolError,
    ToolArgumentsError,
    ToolRoundsExceededError,
    TruncatedError,
)
from convo.events import (
    Finished,
    ModelCall,
    PartialOutput,
    TextDelta,
)
from convo.limits import Meter, UsageLimits
from convo.messages import Message
from convo.pending import Awaiting
from convo.reply import Reply, Usage, add_usage
from convo.request import NO_OPTIONS, Request, RequestOptions
from convo.rounds import after_tool_round, answer_round, output_call, resolve_approvals
from convo.saved import header_metadata
from convo.store.base import ConversationHeader
from convo.streaming import StreamAssembler
from convo.structured import OutputSpec
from convo.summary import Strategy, Summary, summarize
from convo.tokens import TokenCounter
from convo.tools import ToolRegistry
from convo.wire import build_body, message_to_wire, snippet

__all__ = ["ToolTokens", "TurnContext", "build_request", "run_turn"]

logger = logging.getLogger("convo")


# -- what a turn reads ----------------------------------------------------------------


_EMPTY: Mapping[str, Any] = MappingProxyType({})


class TurnContext(NamedTuple):
    """Everything a turn reads, as a snapshot: the turn never mutates the conversation.

    ``history`` is a bounded view of the conversation's history as it was when the
    turn began (``version``), so turns committed meanwhile cannot leak into it.

    A named tuple rather than a frozen dataclass: a frozen dataclass sets each of its
    fields through ``object.__setattr__``, and for these 37 that was 46,000 of the
    turn's instructions (callgrind), a tenth of what convo spends on a turn in memory.
    A tuple is as immutable and is built in one step; ``_replace`` makes a changed copy.
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
    metadata: Mapping[str, Any] = _EMPTY
    template: tuple[str | None, str | None] = (None, None)
    started: float = 0.0
    tool_tokens: ToolTokens | None = None
    offset: int = 0  # where ``history`` begins in the stored history (a loaded tail)
    options: RequestOptions = NO_OPTIONS  # how to send (timeout, headers, ...), not the body
    extra_body: Mapping[str, Any] = _EMPTY  # merged into the body as is
    stream_usage: bool = True  # the transport's server accepts stream_options.include_usage
    limits: UsageLimits | None = None
    spent: tuple[int, float] = (0, 0.0)  # the conversation's committed tokens and cost


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
    body = build_body(
        ctx.model,
        fitted.messages,
        params,
        tools,
        stream=ctx.stream,
        wire=wire,
        extra_body=ctx.extra_body,
        stream_usage=ctx.stream_usage,
        fresh=False,  # copied only if someone asks for request.body (Request.shared)
    )
    return Request.shared(
        body,
        model=ctx.model,
        messages=fitted.messages,
        stream=ctx.stream,
        tools=tuple(tools),
        prompt_tokens=fitted.prompt_tokens,
        budget=fitted.budget,
        dropped=fitted.dropped,
        options=ctx.options,
    )


# -- the turn -------------------------------------------------------------------------


class _Turn:
    """What the turn has spent so far (every model call's usage, summed) and where it
    stands: the history length it began on, where its first message is in the history
    (earlier, for a turn resumed after a suspension), and how many of its messages were
    already committed by the turn it resumes."""

    __slots__ = ("base_length", "carried", "meter", "start", "usage")

    def __init__(self, ctx: TurnContext) -> None:
        self.usage: Usage | None = None
        self.base_length = self.start = len(ctx.history)
        self.carried = 0
        limits = ctx.limits
        self.meter = Meter(limits, ctx.model, *ctx.spent) if limits is not None else None

    def call(self, request: Request) -> CallModel:
        """A model call, once the usage limits allow it (the summary's call too)."""
        if self.meter is not None:
            self.meter.before(self.usage, request.prompt_tokens)
        return CallModel(request)

    def add(self, reply: Reply) -> None:
        self.usage = add_usage(self.usage, reply.usage)
        if self.meter is not None:
            self.meter.after(self.usage, reply.model)


def run_turn(
    ctx: TurnContext, new: Sequence[Message], resolutions: Sequence[tuple[str, bool]] = ()
) -> Generator[Effect, Any, Reply]:
    """The whole turn: ask, run tools, re-ask, validate, commit; the reply is returned
    and also emitted last, as :class:`~convo.events.Finished`.

    ``new`` is the user's new messages, or ``tool`` results for calls that a suspended
    turn awaits; ``resolutions`` are ``(tool_call_id, approved)`` for deferred approvals.
    """
    if ctx.choose is not None:
        _check_choose(ctx)
    turn = _Turn(ctx)
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
            resolved = yield from resolve_approvals(ctx, awaiting, resolutions)
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
        ctx = ctx._replace(history=head(awaiting.start) if head else history[: awaiting.start])
        pending = [*carried, *answers]
    pending.extend(new)
    summary = ctx.summary
    if ctx.strategy is not None:
        made = yield from summarize(ctx, pending, turn, build_request, turn.call)
        if made is not None:
            summary = made
    rounds = retries = 0
    reason: Literal["turn", "tool_round", "output_retry"] = "turn"
    tools_mode = ctx.output is not None and ctx.output_mode == "tools"
    parsed: dict[str, Any] = {}  # the validated output, set on the final reply
    while True:
        request = build_request(ctx, pending, summary)
        if ctx.stream:
            yield Emit(ModelCall(reason, request))
        if turn.meter is not None:
            turn.meter.before(turn.usage, request.prompt_tokens)
        reply = _pick(ctx, (yield from _call(ctx, request)), request)
        turn.add(reply)
        message = reply.message
        final = output_call(ctx, message) if tools_mode else None
        if message.tool_calls and reply.finish_reason == "length":
            # The arguments may be cut anywhere: running the tool would act on a guess.
            raise TruncatedError(
                "the reply was cut off (finish_reason 'length') inside a tool call"
            )
        if message.tool_calls and final is None:
            rounds += 1
            if rounds > ctx.max_tool_rounds:
                raise ToolRoundsExceededError(
                    f"the model still called tools after max_tool_rounds={ctx.max_tool_rounds}"
                )
            pending.append(message)
            answers, waiting = yield from answer_round(ctx, message, turn.start, pending)
            if waiting is not None:
                reply = _counted(reply, request)
                return (yield from _suspend(ctx, turn, pending, waiting, summary, reply))
            pending.extend(answers)
            ctx = after_tool_round(ctx)
            if rounds == ctx.max_tool_rounds and ctx.on_max_tool_rounds == "answer":
                # The last round is spent: ask for a final answer, with no more calls.
                ctx = ctx._replace(params={**ctx.params, "tool_choice": "none"})
            reason = "tool_round"
            continue
        if ctx.output is None:
            pending.append(message)
            break
        if final is not None:
            # Keep the JSON as the assistant's text: a stored tool call without an
            # answer would break the sequence, and the history should show the JSON.
            message = Message.assistant(final.function.arguments)
            reply = _replace_message(reply, message)
        if reply.finish_reason == "content_filter":
            raise ContentFilterError(
                "the reply was stopped by the content filter (finish_reason 'content_filter')"
            )
        pending.append(message)
        try:
            parsed["parsed"] = ctx.output.parse(message, reply.finish_reason)
        except ParseError as exc:
            if retries >= ctx.output_retries:
                raise
            retries += 1
            pending.append(ctx.output.feedback(exc))
            reason = "output_retry"
            continue
        break
    # One copy for everything the turn adds to the last reply: a reply's copy costs
    # 21,000 instructions (callgrind), and a turn made up to three.
    reply = reply.model_copy(
        update={"turn_usage": turn.usage, "prompt_tokens_local": request.prompt_tokens, **parsed}
    )
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
    if chosen != reply.chosen:  # the request's count is set with the turn's usage
        reply = reply.model_copy(update={"chosen": chosen})
    if reply.usage is not None and request.prompt_tokens is not None:
        logger.debug(
            "prompt tokens: server %d, local %d (%+d), model %s",
            reply.usage.prompt_tokens,
            request.prompt_tokens,
            reply.usage.prompt_tokens - request.prompt_tokens,
            ctx.model,
        )
    return reply


def _counted(reply: Reply, request: Request) -> Reply:
    """``reply`` with convo's count of the prompt of ``request``, which it answers."""
    return reply.model_copy(update={"prompt_tokens_local": request.prompt_tokens})


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
    meta = {
        "usage": turn.usage,
        "cost": cost_of(reply.model or ctx.model, turn.usage),
        "model": reply.model or ctx.model,
        "params": ctx.params,
        "finish_reason": reply.finish_reason,
        "latency_ms": (time.perf_counter() - ctx.started) * 1000 if ctx.started else None,
        "template_name": name,
        "template_hash": digest,
    }
    messages = tuple(pending[turn.carried :])
    return CommitPlan(
        base_version=ctx.version,
        base_length=turn.base_length,
        messages=messages,
        store_messages=(*ctx.unsaved, *messages),
        turn=meta,
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


def _replace_message(reply: Reply, message: Message) -> Reply:
    choices = list(reply.choices)
    choices[reply.chosen] = choices[reply.chosen].model_copy(update={"message": message})
    return reply.model_copy(update={"choices": tuple(choices)})
