"""The token budget: what of a conversation fits the model's context window.

:func:`fit` keeps the pinned messages (the system prompt) and the current turn, then
walks back from the newest history message by whole turns, summing the counts cached
on the messages, and stops at the first turn that does not fit. A turn is a user
message and everything after it up to the next one, so an assistant's ``tool_calls``
always stays with its ``tool`` answers and what is sent never starts with an orphan.
The work is proportional to what is kept, not to the length of the history.

>>> from convo.tokens import TokenCounter
>>> turns = [Message.user("Hi"), Message.assistant("Hello!")] * 1000
>>> fitted = fit([Message.system("Be brief.")], turns, [Message.user("Bye")],
...              counter=TokenCounter("gpt-4o"), budget=60)
>>> len(fitted.messages), len(fitted.dropped), fitted.prompt_tokens <= 60
(10, 1992, True)
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

from convo.errors import BudgetError, MessageError, ParameterError
from convo.messages import FEEDBACK_NAME, Message
from convo.tokens.counting import REPLY_PRIMING, TokenCounter
from convo.wire import message_to_wire

__all__ = [
    "CONTEXT_WINDOWS",
    "DEFAULT_CONTEXT_WINDOW",
    "DEFAULT_RESERVE",
    "FEEDBACK_NAME",
    "INPUT_LIMITS",
    "Fit",
    "History",
    "HistoryView",
    "budget_for",
    "check_sequence",
    "context_window",
    "fit",
    "input_limit",
    "starts_turn",
]

#: Context windows in tokens, by model name prefix; the longest matching prefix wins.
#: A ``vendor/`` prefix and a fine-tune's ``ft:`` are ignored. From OpenAI's model pages.
CONTEXT_WINDOWS: dict[str, int] = {
    "gpt-3.5-turbo": 16_385,
    "gpt-3.5-turbo-0301": 4_096,
    "gpt-3.5-turbo-0613": 4_096,
    "gpt-3.5-turbo-instruct": 4_096,
    "gpt-35-turbo": 4_096,  # Azure: the older versions; the newer ones below
    "gpt-35-turbo-16k": 16_384,
    "gpt-35-turbo-0125": 16_385,
    "gpt-35-turbo-1106": 16_385,
    "gpt-4": 8_192,
    "gpt-4-32k": 32_768,
    "gpt-4-0125": 128_000,
    "gpt-4-1106": 128_000,
    "gpt-4-turbo": 128_000,
    "gpt-4-vision": 128_000,
    "gpt-4o": 128_000,
    "gpt-4o-mini": 128_000,
    "chatgpt-4o": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-4.5": 128_000,
    "gpt-5": 400_000,
    "gpt-5-chat": 128_000,
    "gpt-oss": 131_072,
    "o1": 200_000,
    "o1-mini": 128_000,
    "o1-preview": 128_000,
    "o3": 200_000,
    "o4-mini": 200_000,
    "codex-mini": 200_000,
}
#: For a model the table does not know: small enough for almost any server. Pass
#: ``context_window=`` to use more of a larger model.
DEFAULT_CONTEXT_WINDOW = 8_192
#: Tokens kept free for the reply when the parameters set neither ``max_tokens`` nor
#: ``max_completion_tokens``; at most an eighth of the window (1,024 of 8,192).
DEFAULT_RESERVE = 4_096

#: Input caps below the context window, by model name prefix: the prompt may not use
#: the whole window even when the reply is short (gpt-5: 272,000 of 400,000).
INPUT_LIMITS: dict[str, int] = {
    "gpt-5": 272_000,
    "gpt-5-chat": 128_000,
}

_BY_LENGTH = sorted(CONTEXT_WINDOWS, key=len, reverse=True)


def _match(table: Mapping[str, int], model: str) -> int | None:
    name = model.rsplit("/", 1)[-1].strip().lower().removeprefix("ft:")
    best = max((p for p in table if name.startswith(p)), key=len, default=None)
    return None if best is None else table[best]


def input_limit(model: str) -> int | None:
    """The most prompt tokens ``model`` accepts, when that is below its window.

    >>> input_limit("gpt-5-mini"), input_limit("gpt-4o")
    (272000, None)
    """
    return _match(INPUT_LIMITS, model)


def context_window(model: str) -> int:
    """The context window of ``model`` in tokens (:data:`DEFAULT_CONTEXT_WINDOW` if unknown).

    >>> context_window("gpt-4o-mini-2024-07-18"), context_window("gpt-4-32k-0613")
    (128000, 32768)
    >>> context_window("my-local-model")
    8192
    """
    name = model.rsplit("/", 1)[-1].strip().lower().removeprefix("ft:")
    for prefix in _BY_LENGTH:
        if name.startswith(prefix):
            return CONTEXT_WINDOWS[prefix]
    return DEFAULT_CONTEXT_WINDOW


def budget_for(
    model: str,
    params: Mapping[str, Any],
    *,
    context_window: int | None = None,
    reserve_tokens: int | None = None,
) -> int:
    """Prompt tokens available: the window less the tokens reserved for the reply.

    The reply's reservation is the request's ``max_completion_tokens`` or ``max_tokens``
    (the larger if both), else ``reserve_tokens``, else :data:`DEFAULT_RESERVE` (at most
    an eighth of the window).

    >>> budget_for("gpt-4o", {"max_tokens": 1000})
    127000
    >>> budget_for("gpt-4", {})
    7168
    >>> budget_for("gpt-5", {"max_tokens": 1000})  # capped by the model's input limit
    272000
    """
    explicit = context_window is not None
    window = context_window if context_window is not None else _window(model)
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ParameterError(
            f"context_window must be an integer >= 1, got {window!r}", param="context_window"
        )
    asked = [params[k] for k in ("max_completion_tokens", "max_tokens") if params.get(k)]
    if asked:
        reserve, source = max(asked), "max_tokens"
    elif reserve_tokens is not None:
        reserve, source = reserve_tokens, "reserve_tokens"
        if isinstance(reserve, bool) or not isinstance(reserve, int) or reserve < 0:
            raise ParameterError(
                f"reserve_tokens must be an integer >= 0, got {reserve!r}", param="reserve_tokens"
            )
    else:
        reserve, source = min(DEFAULT_RESERVE, window // 8), "reserve_tokens"
    if reserve >= window:
        raise ParameterError(
            f"{source}={reserve} leaves no room for the prompt in {model}'s context window "
            f"of {window} tokens",
            param=source,
        )
    cap = None if explicit else input_limit(model)
    return int(window - reserve if cap is None else min(window - reserve, cap))


_window = context_window


@dataclass(frozen=True, slots=True)
class Fit:
    """What is sent: ``messages`` (pinned, then the kept history, then the pending turn).

    ``dropped`` is the history left out, oldest first: a view, not a copy.
    ``prompt_tokens`` counts the messages, the tool schemas and the reply's priming.
    """

    messages: tuple[Message, ...]
    dropped: Sequence[Message]
    prompt_tokens: int
    budget: int


class History(Sequence[Message]):
    """An append-only message list that keeps running token sums, for :func:`fit`.

    With a ``History``, fitting costs O(log n) to find the cut plus the copy of what
    is sent, instead of a walk over every kept message: the sums are extended once
    per appended message and per counter, then reused by every later request.

    >>> h = History([Message.user("Hi"), Message.assistant("Hello!")])
    >>> h.append(Message.user("Bye"))
    >>> len(h), h[-1].text
    (3, 'Bye')
    """

    __slots__ = ("_items", "_made", "_sums", "_users", "_wire")

    def __init__(self, items: Iterable[Message] = ()) -> None:
        self._items: list[Message] = []
        self._users: list[int] = []  # positions of user messages: where turns start
        self._sums: dict[str, list[int]] = {}  # counter key -> sums of items[:i]
        self._wire: list[dict[str, Any] | None] = []  # the API's dicts, made on demand
        self._made = (0, 0)  # wire[lo:hi] holds no None
        self.extend(items)

    def append(self, message: Message) -> None:
        if message.role == "user" and message.name != FEEDBACK_NAME:  # starts_turn()
            self._users.append(len(self._items))
        self._items.append(message)

    def extend(self, messages: Iterable[Message]) -> None:
        for m in messages:
            self.append(m)

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, i: int) -> Message: ...
    @overload
    def __getitem__(self, i: slice) -> list[Message]: ...
    def __getitem__(self, i: int | slice) -> Message | list[Message]:
        return self._items[i]

    def __iter__(self) -> Iterator[Message]:
        return iter(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, History):
            return self._items == other._items
        return self._items == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"History({len(self._items)} messages)"

    def sums(self, counter: TokenCounter) -> list[int]:
        """``sums[i]`` = tokens of the first ``i`` messages, extended to the end."""
        sums = self._sums.get(counter.key)
        if sums is None:
            sums = self._sums[counter.key] = [0]
        if len(sums) <= len(self._items):
            # accumulate runs the loop in C: a loaded 100,000-message history is summed
            # in a third of the time of a Python loop (its counts come from the store).
            running = itertools.accumulate(
                map(counter.message, self._items[len(sums) - 1 :]), initial=sums[-1]
            )
            next(running)  # the initial value, already the last sum
            sums.extend(running)
        return sums

    def wire(self, start: int, stop: int | None = None) -> list[dict[str, Any]]:
        """The API's dicts of ``self[start:stop]``, made once per message and kept in a
        list so that a request body takes a slice instead of a call per message.

        Only what is asked for is made: a loaded history of 100,000 messages sends its
        newest few hundred, and making every message's dict on the first request took
        a thousand times as long as a later one. ``_made`` is a run of positions known
        to be made, so a request inside it is one slice: scanning the slice for holes
        instead cost 18,000 instructions a request at 110 messages (callgrind).
        """
        wire, n = self._wire, len(self._items)
        if len(wire) < n:
            wire.extend([None] * (n - len(wire)))
        start, stop, _ = slice(start, stop).indices(n)
        lo, hi = self._made
        if not lo <= start <= stop <= hi:
            items = self._items
            for j in itertools.chain(range(start, min(stop, lo)), range(max(start, hi), stop)):
                if wire[j] is None:
                    wire[j] = message_to_wire(items[j])
            # The runs join when they meet; otherwise the newer one is remembered (an
            # empty request changes nothing).
            if start < stop:
                joined = start <= hi and lo <= stop
                self._made = (min(lo, start), max(hi, stop)) if joined else (start, stop)
        return wire[start:stop]  # type: ignore[return-value]  # every None was filled above

    def cut(
        self, counter: TokenCounter, room: int, skip: int = 0, stop: int | None = None
    ) -> tuple[int, int]:
        """The first kept position of ``self[:stop]`` (a turn start, or ``skip`` if all
        fits) and its tokens."""
        sums = self.sums(counter)
        n = len(self._items) if stop is None else stop
        if sums[n] - sums[skip] <= room:
            return skip, sums[n] - sums[skip]
        # The smallest turn start s >= skip with sums[n] - sums[s] <= room; sums only grow.
        users = self._users
        lo = bisect.bisect_left(users, skip)
        hi = bisect.bisect_left(users, n, lo=lo)
        k = bisect.bisect_left(users, sums[n] - room, lo=lo, hi=hi, key=sums.__getitem__)
        if k == hi:
            return n, 0
        return users[k], sums[n] - sums[users[k]]

    def view(self) -> HistoryView:
        """The history as it is now: later appends do not show in the view."""
        return HistoryView(self, len(self._items))


class HistoryView(Sequence[Message]):
    """The first ``stop`` messages of a :class:`History`: what a turn was built on.

    A turn reads the history through a view, so that a turn committed while it runs
    (another task, another thread) cannot change what it sends or what it counts.

    >>> h = History([Message.user("Hi")])
    >>> v = h.view()
    >>> h.append(Message.assistant("Hello"))
    >>> len(v), len(h)
    (1, 2)
    """

    __slots__ = ("_history", "_stop")

    def __init__(self, history: History, stop: int) -> None:
        self._history, self._stop = history, stop

    def __len__(self) -> int:
        return self._stop

    @overload
    def __getitem__(self, i: int) -> Message: ...
    @overload
    def __getitem__(self, i: slice) -> list[Message]: ...
    def __getitem__(self, i: int | slice) -> Message | list[Message]:
        items = self._history._items
        if isinstance(i, slice):
            start, stop, step = i.indices(self._stop)
            if step == 1:  # the turn's own case: one C-level slice
                return items[start:stop]
            return [items[j] for j in range(start, stop, step)]
        if i < 0:
            i += self._stop
        if not 0 <= i < self._stop:
            raise IndexError(i)
        return items[i]

    def __iter__(self) -> Iterator[Message]:
        return itertools.islice(self._history._items, self._stop)

    def __repr__(self) -> str:
        return f"HistoryView({self._stop} messages)"

    def wire(self, start: int) -> list[dict[str, Any]]:
        return self._history.wire(start, self._stop)

    def cut(self, counter: TokenCounter, room: int, skip: int = 0) -> tuple[int, int]:
        return self._history.cut(counter, room, skip, self._stop)

    def head(self, stop: int) -> HistoryView:
        """The first ``stop`` messages of this view."""
        return HistoryView(self._history, min(stop, self._stop))


def check_sequence(messages: Sequence[Message], *, open_end: bool = False, start: int = 0) -> None:
    """Refuse a history that no request could carry: a ``tool`` message that answers no
    open call, or an assistant's ``tool_calls`` left unanswered (``open_end`` allows
    the last round to be open: a suspended turn awaits its answers). Errors name the
    message's index, counting from ``start``.

    >>> from convo.messages import FunctionCall, ToolCall
    >>> call = ToolCall(id="c1", function=FunctionCall(name="f"))
    >>> check_sequence([Message.user("Hi"), Message.assistant(tool_calls=[call])])
    Traceback (most recent call last):
    ...
    convo.errors.MessageError: message 1: tool call 'c1' is never answered
    """
    open_calls: dict[str, int] = {}
    for i, m in enumerate(messages):
        if m.role == "tool":
            if m.tool_call_id not in open_calls:
                raise MessageError(
                    f"a tool message answers {m.tool_call_id!r}, which no earlier "
                    "assistant message left open",
                    index=start + i,
                    field="tool_call_id",
                )
            del open_calls[m.tool_call_id]
            continue
        if open_calls:
            cid, at = next(iter(open_calls.items()))
            raise MessageError(f"tool call {cid!r} is never answered", index=start + at)
        for call in m.tool_calls or ():
            open_calls[call.id] = i
    if open_calls and not open_end:
        cid, at = next(iter(open_calls.items()))
        raise MessageError(f"tool call {cid!r} is never answered", index=start + at)


def starts_turn(message: Message) -> bool:
    """Whether the history may be cut before ``message``: a user message (not feedback)."""
    return message.role == "user" and message.name != FEEDBACK_NAME


def fit(
    pinned: Sequence[Message],
    history: Sequence[Message],
    pending: Sequence[Message],
    *,
    counter: TokenCounter,
    budget: int,
    tools_tokens: int = 0,
    skip: int = 0,
) -> Fit:
    """Keep ``pinned`` and ``pending`` whole, and as many of the newest history turns as fit.

    ``skip`` leaves out the first history messages for good (a summary stands in for
    them). Raises :class:`~convo.errors.BudgetError` (``over_by``, ``budget``) if the
    pinned messages, the pending turn and the tool schemas alone do not fit. Pure: no
    I/O. A :class:`History` is fitted in O(log n); any other sequence is walked back
    from its end, reading only the turns that are kept and the one that is not.
    """
    count = counter.message
    fixed = sum(map(count, pinned)) + sum(map(count, pending)) + tools_tokens + REPLY_PRIMING
    if fixed > budget:
        raise BudgetError(
            f"the system prompt, the current turn and the tool schemas need {fixed} tokens, "
            f"{fixed - budget} more than the budget of {budget}",
            over_by=fixed - budget,
            budget=budget,
        )
    room = budget - fixed
    n = len(history)
    # A History or its view, told apart by type and not by isinstance: both are
    # Sequence ABCs, and the two ABC checks cost twice the cut itself (callgrind).
    kind = type(history)
    kept: Sequence[Message]
    if kind is HistoryView or kind is History:
        start, used = history.cut(counter, room, skip)  # type: ignore[attr-defined]
        kept = history[start:] if start < n else ()
    else:
        start, used = _walk_back(history, count, room, skip)
        if start == n:
            kept = ()
        elif kind is list or kind is tuple:
            kept = history[start:]
        else:
            kept = [history[j] for j in range(start, n)]
    return Fit(
        messages=(*pinned, *kept, *pending),
        dropped=_Head(history, start, skip) if start > skip else (),
        prompt_tokens=fixed + used,
        budget=budget,
    )


def _walk_back(
    history: Sequence[Message], count: Callable[[Message], int], room: int, skip: int
) -> tuple[int, int]:
    n = len(history)
    start = n  # the first kept history message
    used = turn = 0
    i = n - 1
    while i >= skip:
        m = history[i]
        turn += count(m)
        if used + turn > room:
            break
        if starts_turn(m):
            used, turn, start = used + turn, 0, i
        i -= 1
    else:
        # The whole history fits, including messages before its first user message.
        used, start = used + turn, skip
    return start, used


class _Head(Sequence[Message]):
    """``seq[start:stop]`` without copying: histories reach 100,000 messages."""

    __slots__ = ("_seq", "_start", "_stop")

    def __init__(self, seq: Sequence[Message], stop: int, start: int = 0) -> None:
        self._seq, self._stop, self._start = seq, stop, start

    def __len__(self) -> int:
        return self._stop - self._start

    def __iter__(self) -> Iterator[Message]:
        return itertools.islice(self._seq, self._start, self._stop)

    def __repr__(self) -> str:
        return f"<{len(self)} dropped messages>"

    @overload
    def __getitem__(self, i: int) -> Message: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Message]: ...
    def __getitem__(self, i: int | slice) -> Message | Sequence[Message]:
        if isinstance(i, slice):
            return [self._seq[self._start + j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._seq[self._start + i]
