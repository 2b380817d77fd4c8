"""The effects a turn yields, and the commit plan it ends with: plain values.

:func:`convo.turn.run_turn` yields these; a driver carries each out with one blocking
call or one await and sends the result back (the table is in :mod:`convo.turn`).

>>> NEXT_CHUNK
NEXT_CHUNK
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from convo.events import TextDelta
from convo.messages import Message
from convo.pending import Awaiting
from convo.request import Request
from convo.store.base import ConversationHeader, TurnMeta
from convo.summary import Summary
from convo.tools import PreparedCall

__all__ = [
    "CLOSE_STREAM",
    "NEXT_CHUNK",
    "Approve",
    "CallModel",
    "Commit",
    "CommitPlan",
    "Effect",
    "Emit",
    "OpenStream",
    "RunTools",
]


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


class CommitPlan(NamedTuple):
    """Everything a turn writes, as one value: applied whole or not at all.

    ``messages`` join the history; ``store_messages`` (the conversation's unsaved
    initial messages first) are what the store appends in one transaction with
    :attr:`meta`, the header's new ``metadata`` (if it changed) and ``create`` (the
    header, for the first turn). The turn was built on ``base_version`` and a history
    of ``base_length`` messages: committing on anything else is a conflict. ``turn``
    holds the turn's metadata as plain data (``usage`` and ``cost`` among it).

    A named tuple, made once a turn, for the reason :class:`~convo.turn.TurnContext`
    is one.
    """

    base_version: int
    base_length: int
    messages: tuple[Message, ...]
    store_messages: tuple[Message, ...]
    turn: Mapping[str, Any]
    metadata: dict[str, Any] | None = None
    create: ConversationHeader | None = None
    summary: Summary | None = None
    awaiting: Awaiting | None = None

    @property
    def meta(self) -> TurnMeta:
        """The turn's metadata as a store keeps it. Validated only when a store writes
        it: a conversation in memory needs only the usage and the cost, and building
        the model every turn was a twentieth of a turn's instructions."""
        return TurnMeta(**self.turn)


@dataclass(frozen=True, slots=True)
class Commit:
    """Commit ``plan``: the store first, then memory; answer with the new version."""

    plan: CommitPlan


Effect = CallModel | OpenStream | _Signal | TextDelta | Approve | RunTools | Emit | Commit
