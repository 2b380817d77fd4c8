"""Forks share their prefix without copying it; deleting keeps every fork whole."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from convo.errors import ConversationNotFoundError, InputError, VersionConflictError
from convo.messages import Message
from convo.store.base import TurnMeta
from convo.store.sql import SQLStore
from tests.store.helpers import create, tool_turn


def _rows(store: SQLStore, cid: str | None = None) -> int:
    query = "SELECT COUNT(*) FROM convo_messages"
    with store._engine.connect() as conn:
        if cid is None:
            return int(conn.execute(text(query)).scalar_one())
        return int(
            conn.execute(text(query + " WHERE conversation_id = :c"), {"c": cid}).scalar_one()
        )


def _texts(store: SQLStore, cid: str) -> list[str]:
    return [m.text for m in store.load(cid).messages]


@pytest.fixture
def original(store: SQLStore) -> str:
    cid = create(store, title="root", metadata={"team": "a"})
    store.append_turn(cid, 1, tool_turn("x"), TurnMeta())
    return cid  # hi, hello, question x, call, answer x, reply x


def test_fork_shares_the_prefix_and_diverges(store: SQLStore, original: str) -> None:
    before = store.load(original)
    fork = store.fork(original, at=2)
    assert _rows(store) == 6  # nothing copied
    loaded = store.load(fork)
    assert loaded.messages == before.messages[:2]
    assert loaded.version == 1
    assert loaded.header.forked_from == original
    assert (loaded.header.title, loaded.header.metadata) == ("root", {"team": "a"})
    assert (
        store.append_turn(fork, 1, [Message.user("edited"), Message.assistant("new")], TurnMeta())
        == 2
    )
    assert _texts(store, fork) == ["hi", "hello", "edited", "new"]
    assert store.load(original) == before
    assert _rows(store, fork) == 2
    assert store.load(fork, tail=3).messages == store.load(fork).messages[-3:]


def test_fork_of_a_fork_and_the_ends(store: SQLStore, original: str) -> None:
    a = store.fork(original, at=4)
    store.append_turn(a, 1, [Message.user("a1")], TurnMeta())
    b = store.fork(a, at=5, new_id="b-fork")
    assert b == "b-fork"
    store.append_turn(b, 1, [Message.assistant("b1")], TurnMeta())
    c = store.fork(b, at=1)  # inside the root's rows only
    assert _texts(store, b) == ["hi", "hello", "question x", "", "a1", "b1"]
    assert _texts(store, c) == ["hi"]
    assert store.load(b, tail=2).messages == store.load(b).messages[-2:]
    assert store.load(store.fork(original, at=0)).messages == []
    whole = store.fork(original, at=6)
    assert store.load(whole).messages == store.load(original).messages
    with pytest.raises(InputError):
        store.fork(original, at=7)
    with pytest.raises(InputError):
        store.fork(original, at=-1)
    with pytest.raises(VersionConflictError):
        store.fork(original, at=1, new_id="b-fork")
    assert store.list(text="b1")[0].id == b
    assert {s.id for s in store.list(text="question x", limit=100)} >= {original, a, b, whole}


def test_delete_keeps_forks_working(store: SQLStore, original: str) -> None:
    fork = store.fork(original, at=3)
    store.append_turn(fork, 1, [Message.assistant("fork reply")], TurnMeta())
    expected = _texts(store, fork)
    store.delete(original)
    with pytest.raises(ConversationNotFoundError):
        store.load(original)
    with pytest.raises(ConversationNotFoundError):
        store.delete(original)
    assert original not in {s.id for s in store.list()}
    assert _texts(store, fork) == expected
    assert _rows(store, original) == 3  # rows nobody inherits are gone already
    grandchild = store.fork(fork, at=4)
    store.delete(fork)
    assert _texts(store, grandchild) == expected
    store.delete(grandchild)
    assert _rows(store) == 0  # the last one out collected the tombstones
    with store._engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM convo_conversations")).scalar_one() == 0


def test_delete_removes_everything_of_a_plain_conversation(store: SQLStore, original: str) -> None:
    other = create(store)
    store.delete(original)
    assert _rows(store) == 2
    with store._engine.connect() as conn:
        for table in ("convo_turns", "convo_metadata", "convo_segments"):
            count = conn.execute(
                text(f"SELECT COUNT(*) FROM {table} WHERE conversation_id = :c"), {"c": original}
            ).scalar_one()
            assert count == 0, table
    assert store.load(other).messages
    assert store.latest() == other
