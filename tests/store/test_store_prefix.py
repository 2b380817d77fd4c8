"""Short ids (``SQLStore.ids``) and the time each turn was committed (``TurnMeta.created_at``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from convo import InputError, Message
from convo.store import SQLStore
from convo.store.base import ConversationHeader, TurnMeta


def _new(store: SQLStore, cid: str) -> None:
    store.append_turn(
        cid,
        0,
        [Message.user("hi"), Message.assistant("hello")],
        TurnMeta(model="m"),
        create=ConversationHeader(id=cid),
    )


def test_ids_by_prefix(store: SQLStore) -> None:
    for cid in ("abc1", "abc2", "abd", "x_y", "xzy"):
        _new(store, cid)
    assert store.ids("abc") == ["abc1", "abc2"]
    assert store.ids("ab", limit=2) == ["abc1", "abc2"]
    assert store.ids("abd") == ["abd"]
    assert store.ids("x_") == ["x_y"]  # "_" is no LIKE wildcard here
    assert store.ids("q") == []
    store.delete("abc2")
    assert store.ids("abc") == ["abc1"]
    with pytest.raises(InputError):
        store.ids("")


def test_turns_say_when_they_were_committed(store: SQLStore) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    _new(store, "c1")
    (turn,) = store.turns("c1")
    assert turn.created_at is not None
    assert before <= turn.created_at <= datetime.now(UTC) + timedelta(seconds=5)
