"""What a store speaks in: conversation headers, turn metadata, loaded conversations.

These are plain frozen values; no database row ever leaves the store package.

>>> h = ConversationHeader(id="c1", model="gpt-4o-mini", system="Be terse.")
>>> h.title is None, h.variables
(True, {})
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from convo.messages import Message
from convo.reply import Usage

__all__ = [
    "Branch",
    "ConversationHeader",
    "ConversationSummary",
    "Store",
    "StoredConversation",
    "Totals",
    "TurnMeta",
]


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ConversationHeader(_Value):
    """Everything about a conversation except its messages.

    ``forked_from`` is the id the conversation was forked from (it may since have been
    deleted); the store sets ``created_at``/``updated_at``.
    """

    id: str
    model: str | None = None
    system: str | None = None
    template_name: str | None = None
    template_hash: str | None = None
    template_source: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    title: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    forked_from: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class TurnMeta(_Value):
    """What one turn cost, how it was made, and (read back) when it was committed.

    >>> TurnMeta(usage=Usage(total_tokens=7), model="m").usage.total_tokens
    7
    """

    usage: Usage | None = None
    cost: float | None = None  # USD; None when the model's price is unknown
    model: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    finish_reason: str | None = None
    latency_ms: float | None = None
    template_name: str | None = None
    template_hash: str | None = None
    # Set by the store when it reads a turn back (UTC); append_turn ignores it.
    created_at: datetime | None = None


class Totals(Usage):
    """What turns used, summed: tokens, and ``cost`` in USD over the turns whose price
    is known (``None`` when none is); ``unpriced`` counts the turns without a price.

    >>> Totals(total_tokens=7, cost=0.5).cost
    0.5
    """

    cost: float | None = None
    unpriced: int = 0


class StoredConversation(_Value):
    """A loaded conversation: header, history (no system prompt), version.

    ``truncated`` is True when only a tail of the history was loaded; ``offset`` is
    the position of its first message in the whole stored history (0 for a whole load),
    so positions given to the store (a fork point) can be made absolute again.

    ``keys`` (only when loaded with ``keys=True``) holds each message's key: an id that
    stays the message's while other messages are deleted, and is never another's.
    """

    header: ConversationHeader
    messages: list[Message]
    version: int
    truncated: bool = False
    offset: int = 0
    keys: list[str] | None = None


class Branch(_Value):
    """A message of a conversation that has siblings: other conversations share the
    history before ``position`` and hold a different message there (an edit of that
    message, a regenerated reply). ``conversations`` has one conversation per sibling
    message, in the order the messages were written; ``index`` is this conversation's.

    A chat UI shows "branch ``index + 1`` of ``len(conversations)``" on the message at
    ``position`` and opens ``conversations[i]`` to switch.

    >>> b = Branch(position=2, conversations=["a", "b", "c"], index=1)
    >>> f"{b.index + 1} of {len(b.conversations)}", b.conversations[b.index + 1]
    ('2 of 3', 'c')
    """

    position: int
    conversations: list[str]
    index: int


class ConversationSummary(_Value):
    """One line of :meth:`Store.list`: enough to show and pick a conversation."""

    id: str
    title: str | None
    model: str | None
    created_at: datetime
    updated_at: datetime
    message_count: int
    preview: str


class Store(Protocol):
    """What a conversation needs from storage (sync flavour; the async twin awaits each)."""

    def append_turn(
        self,
        conversation_id: str,
        expected_version: int,
        messages: Sequence[Message],
        meta: TurnMeta,
        *,
        create: ConversationHeader | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> int: ...

    def update_header(self, conversation_id: str, **fields: Any) -> ConversationHeader: ...

    def load(self, conversation_id: str, *, tail: int | None = None) -> StoredConversation: ...

    def header(self, conversation_id: str) -> ConversationHeader: ...

    def fork(self, conversation_id: str, *, at: int, new_id: str | None = None) -> str: ...

    def delete(self, conversation_id: str) -> None: ...
