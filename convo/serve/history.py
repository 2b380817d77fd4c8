"""A conversation's items, with ids that name one message for as long as it is there.

An item's id comes from its message's key in the store (``item_<key>``), not from its
position: positions shift when an earlier item is deleted, so a client holding a
position would delete or read another message. The store writes a key with each message
and carries it wherever the message goes (a deletion rewrites the later rows, keys and
all; a fork shares its parent's rows, so a shared message has the same id in both), and
a key is never given to another message. A stale id is therefore a 404, never someone
else's message. A message with tool calls is several items: its text, if any, is
``item_<key>``, its ``k``-th call ``item_<key>_<k>`` (the calls of a stored message never
change, so ``k`` is as stable as the key).

>>> from convo.messages import Message
>>> h = History.of([Message.user("Hi"), Message.assistant("Hello")], ["k1", "k2"])
>>> [i["id"] for i in h.items], h.position("item_k2"), h.position("item_k3")
(['item_k1', 'item_k2'], 1, None)
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from convo.messages import Message
from convo.serve.items import to_items
from convo.store.base import StoredConversation

__all__ = ["History", "new_keys", "tool_round"]


def new_keys(count: int) -> list[str]:
    """Keys for messages about to be stored, in the store's shape (see SQLStore.append_turn)."""
    return [secrets.token_hex(12) for _ in range(count)]


@dataclass(frozen=True)
class History:
    """The items of a history, in order, and the position of each item's message."""

    items: list[dict[str, Any]]
    positions: dict[str, int]

    @classmethod
    def of(cls, messages: Sequence[Message], keys: Sequence[str], start: int = 0) -> History:
        items: list[dict[str, Any]] = []
        positions: dict[str, int] = {}
        for n, (message, key) in enumerate(zip(messages, keys, strict=True), start):
            calls = 0
            for item in to_items([message], "x"):
                if item["type"] == "function_call":
                    item["id"] = f"item_{key}_{calls}"
                    calls += 1
                else:
                    item["id"] = f"item_{key}"
                positions[item["id"]] = n
                items.append(item)
        return cls(items, positions)

    @classmethod
    def load(cls, stored: StoredConversation) -> History:
        """``stored`` must have been loaded with ``keys=True``."""
        assert stored.keys is not None
        return cls.of(stored.messages, stored.keys, stored.offset)

    def position(self, item_id: str) -> int | None:
        return self.positions.get(item_id)

    def ids_between(self, start: int, stop: int) -> list[str]:
        """The ids of the items of messages ``[start, stop)``."""
        return [i for i, n in self.positions.items() if start <= n < stop]


def tool_round(messages: Sequence[Message], k: int) -> tuple[int, int]:
    """The messages ``[start, stop)`` that must go together with message ``k``.

    A tool round (an assistant message with tool calls and the tool messages answering
    it) is one unit: cutting through it leaves a call without its answer or an answer
    without its call, which no model API accepts (the store refuses such a cut). Any
    other message stands alone.
    """
    start = k
    while start > 0 and messages[start].role == "tool":
        start -= 1
    if not (messages[start].role == "assistant" and messages[start].tool_calls):
        return k, k + 1  # not in a round (an orphan answer: the store says why)
    stop = start + 1
    while stop < len(messages) and messages[stop].role == "tool":
        stop += 1
    return start, stop
