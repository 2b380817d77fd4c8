"""Listing by keyset (``before=``), stable under concurrent writes; text search that
ignores case for every script, SQLite included.
"""

from __future__ import annotations

import pytest
from sqlalchemy import update

from convo.errors import InputError
from convo.messages import Message
from convo.store import AsyncSQLStore
from convo.store._rows import CONVERSATIONS
from convo.store.base import ConversationHeader, TurnMeta
from convo.store.sql import SQLStore


def _create(store: SQLStore, cid: str, text: str = "hi") -> None:
    turn = [Message.user(text), Message.assistant("ok")]
    store.append_turn(cid, 0, turn, TurnMeta(), create=ConversationHeader(id=cid))


def test_pages_by_keyset_neither_skip_nor_repeat_under_concurrent_writes(
    store: SQLStore,
) -> None:
    for n in range(7):
        _create(store, f"c{n}")
    first = store.list(limit=3)
    assert [s.id for s in first] == ["c6", "c5", "c4"]
    # Meanwhile a new conversation arrives and an old one moves to the front: an
    # offset would now repeat c4; the keyset goes on after the last item seen.
    _create(store, "late")
    store.append_turn("c0", 1, [Message.user("bump")], TurnMeta())
    last = first[-1]
    second = store.list(limit=3, before=(last.updated_at, last.id))
    assert [s.id for s in second] == ["c3", "c2", "c1"]
    rest = store.list(before=(second[-1].updated_at, second[-1].id))
    assert rest == []  # c0 moved ahead of the cursor
    with pytest.raises(InputError, match="before"):
        store.list(before=(last.updated_at, last.id), offset=1)
    with pytest.raises(InputError, match="conversation id"):
        store.list(before=(last.updated_at, last.id + " "))


def test_ties_on_updated_at_are_broken_by_id(store: SQLStore) -> None:
    for cid in ("a", "b", "c"):
        _create(store, cid)
    summaries = store.list()
    at = summaries[0].updated_at
    with store._engine.begin() as conn:
        conn.execute(update(CONVERSATIONS).values(updated_at=at.replace(tzinfo=None)))
    same = store.list()
    assert [s.id for s in same] == ["c", "b", "a"]
    after = store.list(before=(same[0].updated_at, "c"))
    assert [s.id for s in after] == ["b", "a"]


def test_text_search_ignores_case_beyond_ascii(store: SQLStore) -> None:
    _create(store, "de", "Grüße aus MÜNCHEN")
    _create(store, "el", "Καλημέρα ΚΌΣΜΕ")
    _create(store, "ascii", "Plain Text")
    assert [s.id for s in store.list(text="münchen")] == ["de"]
    assert [s.id for s in store.list(text="ÜSSE")] == []
    assert [s.id for s in store.list(text="κόσμε")] == ["el"]
    assert [s.id for s in store.list(text="plain TEXT")] == ["ascii"]
    assert [s.id for s in store.list(text="100%")] == []


async def test_the_async_store_pages_by_keyset(db_url: str) -> None:
    async with AsyncSQLStore(db_url) as store:
        for n in range(3):
            _create(store.sync, f"c{n}")
        page = await store.list(limit=1)
        rest = await store.list(before=(page[0].updated_at, page[0].id))
        assert [s.id for s in rest] == ["c1", "c0"]
