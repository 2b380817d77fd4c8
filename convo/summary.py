"""What a conversation does with the turns that no longer fit: the strategies, and the
summary step of a turn.

A :class:`Strategy` answers one question, :meth:`Strategy.request_messages`: given the
history messages that the budget leaves out (and the previous summary), which messages
ask the model for a summary - or ``None``, to leave them out. :class:`KeepNewest` (the
default) always says ``None``; :class:`Summarize` asks. The turn calls it, makes the
call, checks the answer and keeps the summary as a :class:`Summary`, which is written
with the turn, in the same transaction.

>>> s = Summarize()
>>> [m.role for m in s.request_messages([Message.user("My name is Ada.")], None)]
['system', 'user']
>>> KeepNewest().request_messages([Message.user("Hi")], None) is None
True
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from convo.errors import BudgetError, ParameterError
from convo.messages import Message, TextPart
from convo.request import Request
from convo.wire import build_body, max_tokens_field, message_to_wire

if TYPE_CHECKING:
    from convo.turn import TurnContext

__all__ = [
    "DEFAULT_SUMMARY_PROMPT",
    "KeepNewest",
    "Strategy",
    "Summarize",
    "Summary",
    "check_strategy",
    "digest",
    "summarize",
]

logger = logging.getLogger("convo")


class Strategy:
    """What to do with the turns that no longer fit: subclass and override
    :meth:`request_messages` (and :meth:`summary_message`) to write your own."""

    __slots__ = ()
    #: Tokens the summary call may write.
    max_tokens: int = 512

    def request_messages(
        self, dropped: Sequence[Message], previous: Message | None
    ) -> list[Message] | None:
        """The messages asking the model to summarize ``dropped`` (merging ``previous``),
        or ``None`` to leave them out without a summary."""
        return None

    def summary_message(self, text: str) -> Message:
        """The message that stands in for the summarized turns."""
        return Message.system(text.strip())


@dataclass(frozen=True, slots=True)
class KeepNewest(Strategy):
    """Keep the newest whole turns that fit and leave the older ones out (the default).

    >>> KeepNewest()
    KeepNewest()
    """


_SUMMARY_HEADER = (
    "Summary of the earlier part of this conversation "
    "(those turns were removed to fit the context window):"
)
DEFAULT_SUMMARY_PROMPT = (
    "You write the running summary of a conversation between a user and an assistant, "
    "for the assistant's own use later. Keep every fact, name, number, decision, "
    "instruction and preference the user gave, what tools returned that still matters, "
    "and any open question or task; drop greetings and small talk. If a previous summary "
    "is given, merge it with the new messages into one summary. Be concise: short "
    "paragraphs or bullet points, in the language of the conversation, and nothing but "
    "the summary."
)


@dataclass(frozen=True, slots=True)
class Summarize(Strategy):
    """Replace the turns that do not fit with a summary that the model writes.

    The summary call is fitted to the model's window in tokens: when the transcript of
    what was dropped does not fit (or is over ``max_transcript_chars``), its newest
    part is summarized and the previous summary stands for what came before it. An
    empty, cut-off or refused summary is not used: the previous one is kept and the
    turn goes on without a new one (logged on the ``convo`` logger).

    >>> Summarize().summary_message("The user is Ada.").text.startswith("Summary of")
    True
    """

    prompt: str = DEFAULT_SUMMARY_PROMPT
    max_tokens: int = 512
    max_transcript_chars: int = 48_000

    def __post_init__(self) -> None:
        if isinstance(self.max_tokens, bool) or not isinstance(self.max_tokens, int):
            raise ParameterError(f"max_tokens must be an integer, got {self.max_tokens!r}")
        if self.max_tokens < 1 or self.max_transcript_chars < 1000:
            raise ParameterError(
                "Summarize needs max_tokens >= 1 and max_transcript_chars >= 1000",
                param="max_tokens" if self.max_tokens < 1 else "max_transcript_chars",
            )

    def request_messages(
        self, dropped: Sequence[Message], previous: Message | None
    ) -> list[Message] | None:
        """The messages asking the model to summarize ``dropped`` (and merge ``previous``)."""
        lines: list[str] = []
        size = 0
        cap = self.max_transcript_chars // 8  # no single message may crowd out the rest
        for i in range(len(dropped) - 1, -1, -1):  # newest first: O(what is shown)
            line = _clip(_transcript_line(dropped[i]), cap)
            if size + len(line) > self.max_transcript_chars and lines:
                lines.append(f"({i + 1} earlier messages are not shown.)")
                break
            lines.append(line)
            size += len(line) + 2
        parts = []
        if previous is not None:
            summary = previous.text.removeprefix(_SUMMARY_HEADER).strip()
            parts.append(f"Previous summary:\n{summary}")
        parts.append("Messages to add to the summary:\n\n" + "\n\n".join(reversed(lines)))
        return [Message.system(self.prompt), Message.user("\n\n".join(parts))]

    def summary_message(self, text: str) -> Message:
        """The system message that stands in for the summarized turns."""
        return Message.system(f"{_SUMMARY_HEADER}\n\n{text.strip()}")


def check_strategy(strategy: Any) -> Strategy | None:
    """``strategy`` if it is one; a clear error otherwise (never silently "keep newest")."""
    if strategy is None or isinstance(strategy, Strategy):
        return strategy
    raise ParameterError(
        f"strategy must be a convo.Strategy (KeepNewest, Summarize, or a subclass), "
        f"got {type(strategy).__name__}",
        param="strategy",
    )


@dataclass(frozen=True, slots=True)
class Summary:
    """A summary message standing in for the first ``covers`` history messages.

    ``check`` is the :func:`digest` of the last covered message: a summary is only
    used on a history whose message ``covers - 1`` is that one (a fork before it, or
    a reload of another branch, does not inherit it).
    """

    message: Message
    covers: int
    check: str = ""

    def fits(self, history: Sequence[Message]) -> bool:
        if self.covers == 0:  # stands for what came before a loaded tail
            return True
        if not 0 < self.covers <= len(history):
            return False
        return not self.check or digest(history[self.covers - 1]) == self.check


def digest(message: Message) -> str:
    """A short, stable fingerprint of a message's content."""
    text = json.dumps(message_to_wire(message), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def summarize(
    ctx: TurnContext,
    pending: Sequence[Message],
    tally: Any,
    build_request: Callable[..., Request],
    call: Callable[[Request], Any],
) -> Generator[Any, Any, Summary | None]:
    """The summary step of a turn: a new summary if the strategy makes one and history
    is dropped; else ``None`` (the previous summary, if any, stays)."""
    strategy = ctx.strategy
    if strategy is None:
        return None
    probe = build_request(ctx, pending)
    if not probe.dropped:
        return None  # everything since the last summary still fits
    # Summarize down to half the budget, so that the next turns have room before a
    # summary is needed again: it is kept, not recomputed every turn.
    # If half is too small for this turn, summarize only what the whole budget drops.
    with contextlib.suppress(BudgetError):
        probe = build_request(ctx._replace(budget=max(ctx.budget // 2, 1)), pending)
    start = ctx.summary.covers if ctx.summary else 0
    covers = start + len(probe.dropped)
    previous = ctx.summary.message if ctx.summary else None
    dropped: Sequence[Message] = probe.dropped
    messages = strategy.request_messages(dropped, previous)
    if messages is None:
        return None
    # The summary call must fit the window too, in tokens: show fewer (the newest) of
    # the dropped messages until it does.
    room = (ctx.window or ctx.budget) - strategy.max_tokens
    while ctx.counter.prompt(messages) > room and len(dropped) > 1:
        dropped = dropped[len(dropped) // 2 :]
        messages = strategy.request_messages(dropped, previous) or messages
    if ctx.counter.prompt(messages) > room:
        logger.warning("the summary request does not fit the window; no summary made")
        return None
    body = build_body(ctx.model, messages, {max_tokens_field(ctx.model): strategy.max_tokens})
    reply = yield call(Request(ctx.model, tuple(messages), body))
    tally.add(reply)
    text = reply.text.strip()
    if not text or reply.message.refusal or reply.finish_reason not in (None, "stop"):
        logger.warning(
            "the summary was not used (finish_reason %r, %d characters, refused: %s); "
            "the previous summary is kept",
            reply.finish_reason,
            len(text),
            bool(reply.message.refusal),
        )
        return None
    return Summary(strategy.summary_message(text), covers, digest(ctx.history[covers - 1]))


_SPEAKERS = {"user": "User", "assistant": "Assistant", "tool": "Tool result"}


def _transcript_line(m: Message) -> str:
    speaker = _SPEAKERS.get(m.role, m.role.capitalize())
    if m.role == "tool":
        speaker += f" ({m.name or m.tool_call_id})"
    elif m.name:
        speaker += f" ({m.name})"
    body = m.text
    if not isinstance(m.content, str) and m.content:
        body = " ".join(p.text if isinstance(p, TextPart) else f"[{p.type}]" for p in m.content)
    pieces = [body] if body else []
    if m.refusal:
        pieces.append(f"[refused: {m.refusal}]")
    pieces.extend(f"[called {c.function.name}({c.function.arguments})]" for c in m.tool_calls or ())
    return f"{speaker}: {' '.join(pieces)}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
