"""Message keys: a stable id per message, kept through deletions of other messages."""

from __future__ import annotations

import secrets

import pytest

from convo.errors import InputError
from convo.messages import Message
from convo.store.base import ConversationHeader, TurnMeta
from convo.store.sql import SQLStore


def _keys(store: SQLStore, cid: str) -> list[str]:
    loaded = store.load(cid, keys=True)
    assert loaded.keys is not None and len(loaded.keys) == len(loaded.messages)
    return loaded.keys


def _texts(store: SQLStore, cid: str) -> list[str]:
    return [m.text for m in store.load(cid).messages]


def _make(store: SQLStore, cid: str, n: int) -> None:
    turn = [Message.user(f"m{i}") if i % 2 == 0 else Message.assistant(f"m{i}") for i in range(n)]
    store.append_turn(cid, 0, turn, TurnMeta(), create=ConversationHeader(id=cid))


def test_every_message_has_its_own_key_and_a_plain_load_has_none(store: SQLStore) -> None:
    _make(store, "a", 4)
    keys = _keys(store, "a")
    assert len(set(keys)) == 4
    assert store.load("a").keys is None
    assert store.load("a", tail=2, keys=True).keys == keys[2:]


def test_a_deletion_keeps_the_other_messages_keys(store: SQLStore) -> None:
    _make(store, "a", 6)
    before = _keys(store, "a")
    store.delete_messages("a", 1, 1, 3)
    assert _keys(store, "a") == before[:1] + before[3:]
    assert _texts(store, "a") == ["m0", "m3", "m4", "m5"]
    store.append_turn("a", 2, [Message.user("new")], TurnMeta())
    after = _keys(store, "a")
    assert after[:4] == before[:1] + before[3:]
    assert after[4] not in before  # a deleted message's key is never given again


def test_a_fork_shares_keys_and_keeps_them_when_its_parent_cuts(store: SQLStore) -> None:
    _make(store, "a", 6)
    before = _keys(store, "a")
    store.fork("a", at=4, new_id="b")
    assert _keys(store, "b") == before[:4]
    store.delete_messages("a", 1, 0, 2)
    assert _keys(store, "b") == before[:4]
    assert _texts(store, "b") == ["m0", "m1", "m2", "m3"]
    assert _keys(store, "a") == before[2:]
    store.delete_messages("b", 1, 1, 2)
    assert _keys(store, "b") == [before[0], *before[2:4]]


def test_a_turn_can_bring_its_own_keys_of_the_stores_shape(store: SQLStore) -> None:
    _make(store, "a", 2)
    mine = [secrets.token_hex(12), secrets.token_hex(12)]
    store.append_turn("a", 1, [Message.user("x"), Message.assistant("y")], TurnMeta(), keys=mine)
    assert _keys(store, "a")[2:] == mine
    for bad in (["r1", secrets.token_hex(12)], [mine[0]], [mine[0], mine[0]]):
        with pytest.raises(InputError):
            store.append_turn("a", 2, [Message.user("x"), Message.user("z")], TurnMeta(), keys=bad)
    assert len(_keys(store, "a")) == 4
