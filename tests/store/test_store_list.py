"""Listing, titles, totals and turn metadata."""

from __future__ import annotations

import pytest

from convo.errors import ConversationNotFoundError, InputError
from convo.messages import Message
from convo.reply import Usage
from convo.store.base import TurnMeta
from convo.store.sql import SQLStore
from tests.store.helpers import create, meta


def test_list_is_newest_first_and_paginates(store: SQLStore) -> None:
    assert store.list() == []
    assert store.latest() is None
    ids = [create(store, title=f"chat {n}") for n in range(5)]
    store.append_turn(ids[1], 1, [Message.user("bump")], TurnMeta())  # now the newest
    order = [ids[1], ids[4], ids[3], ids[2], ids[0]]
    assert [s.id for s in store.list()] == order
    assert [s.id for s in store.list(limit=2)] == order[:2]
    assert [s.id for s in store.list(limit=2, offset=2)] == order[2:4]
    assert [s.id for s in store.list(limit=2, offset=4)] == order[4:]
    assert store.list(offset=10) == []
    assert store.latest() == ids[1]
    first = store.list(limit=1)[0]
    assert (first.title, first.model) == ("chat 1", "gpt-test")
    assert (first.message_count, first.preview) == (3, "hi")
    assert first.updated_at >= first.created_at
    with pytest.raises(InputError):
        store.list(limit=-1)


def test_list_filters(store: SQLStore) -> None:
    a = create(
        store,
        title="Trip to Kyoto",
        metadata={"user": "ann", "n": 1},
        turn=[Message.user("plan 京都 50% off_peak"), Message.assistant("ok")],
    )
    b = create(
        store,
        title="Groceries",
        metadata={"user": "bob", "n": 1},
        turn=[Message.user("milk"), Message.assistant("Kyoto tea?")],
    )
    c = create(store, title=None, metadata={"user": "ann", "n": "1"})

    def ids(**kw: object) -> set[str]:
        return {s.id for s in store.list(**kw)}  # type: ignore[arg-type]

    assert ids(title="kyoto") == {a}
    assert ids(text="kyoto") == {b}
    assert ids(text="京都") == {a}
    assert ids(text="50%") == {a}  # LIKE wildcards are literal
    assert ids(text="o_f") == set()  # would match "off" if "_" were a wildcard
    assert ids(text="_") == {a}
    assert ids(metadata={"user": "ann"}) == {a, c}
    assert ids(metadata={"user": "ann", "n": 1}) == {a}  # 1 and "1" differ
    assert ids(metadata={"user": "ann"}, text="plan") == {a}
    assert ids(metadata={"missing": 1}) == set()


def test_totals_and_turns(store: SQLStore) -> None:
    cid = create(store)
    store.append_turn(cid, 1, [Message.user("a"), Message.assistant("b")], meta(2))
    store.append_turn(cid, 2, [Message.user("c")], TurnMeta())  # no usage reported
    totals = store.totals(cid)
    assert Usage.model_validate(
        totals.model_dump(include={"prompt_tokens", "completion_tokens", "total_tokens"})
    ) == Usage(prompt_tokens=30, completion_tokens=3, total_tokens=33)
    turns = store.turns(cid)
    # Every turn says when it was committed, in order; the rest is what was appended.
    stamps = [t.created_at for t in turns]
    assert all(t is not None and t.tzinfo is not None for t in stamps)
    assert stamps == sorted(stamps)  # type: ignore[type-var]
    assert [t.model_copy(update={"created_at": None}) for t in turns] == [
        meta(1),
        meta(2),
        TurnMeta(),
    ]
    assert store.totals(store.fork(cid, at=2)).total_tokens == 0  # a fork's totals are its own
    with pytest.raises(ConversationNotFoundError):
        store.totals("nope")


def test_titles_and_headers(store: SQLStore) -> None:
    cid = create(store, metadata={"a": 1})
    store.set_title(cid, "Renamed ✨")
    assert store.header(cid).title == "Renamed ✨"
    header = store.update_header(cid, model="other", metadata={"b": [1, 2]})
    assert header.model == "other"
    assert store.header(cid) == header
    assert [s.id for s in store.list(metadata={"b": [1, 2]})] == [cid]
    assert store.list(metadata={"a": 1}) == []
    assert store.load(cid).version == 1
    with pytest.raises(InputError):
        store.update_header(cid, version=5)
    with pytest.raises(ConversationNotFoundError):
        store.set_title("nope", "x")
