"""delete_messages: one run of messages out of a history, versioned, atomic, forks kept."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import text

from convo.errors import ConversationNotFoundError, InputError, VersionConflictError
from convo.messages import Message
from convo.store.aio import AsyncSQLStore
from convo.store.base import Branch, ConversationHeader, TurnMeta
from convo.store.sql import SQLStore
from tests.store.helpers import meta, tool_turn
from tests.store.test_store_atomicity import _counts, _each_write_fails

FOUR = [Message.user("u0"), Message.assistant("a0"), Message.user("u1"), Message.assistant("a1")]


def _texts(store: SQLStore, cid: str) -> list[str]:
    return [m.text for m in store.load(cid).messages]


def _seqs(store: SQLStore, cid: str) -> list[int]:
    with store._engine.connect() as conn:
        rows = conn.execute(
            text("SELECT seq FROM convo_messages WHERE conversation_id = :c ORDER BY seq"),
            {"c": cid},
        )
        return [int(r[0]) for r in rows]


@pytest.fixture
def a(store: SQLStore) -> str:
    store.append_turn("a", 0, FOUR[:2], meta(1), create=ConversationHeader(id="a"))
    store.append_turn("a", 1, FOUR[2:], meta(2))
    return "a"


def test_deleting_the_last_turn_and_a_single_message(store: SQLStore, a: str) -> None:
    assert store.delete_messages(a, 2, 2, 4) == 3
    loaded = store.load(a)
    assert ([m.text for m in loaded.messages], loaded.version) == (["u0", "a0"], 3)
    assert store.append_turn(a, 3, [Message.user("u1'")], TurnMeta()) == 4
    assert store.delete_messages(a, 4, 1, 2) == 5  # a single message, in the middle
    assert _texts(store, a) == ["u0", "u1'"]
    assert _seqs(store, a) == [0, 1]  # nothing left behind, seq stays contiguous
    assert store.load(a, tail=1).messages[0].text == "u1'"
    assert [s.message_count for s in store.list()] == [2]


def test_a_stale_version_or_a_bad_range_changes_nothing(store: SQLStore, a: str) -> None:
    before, rows = store.export(a), _counts(store)
    with pytest.raises(VersionConflictError) as err:
        store.delete_messages(a, 1, 3, 4)
    assert (err.value.expected, err.value.actual) == (1, 2)
    for start, stop in [(-1, 1), (2, 2), (3, 2), (0, 5), (4, 5)]:
        with pytest.raises(InputError, match="not within the history"):
            store.delete_messages(a, 2, start, stop)
    with pytest.raises(ConversationNotFoundError):
        store.delete_messages("nope", 1, 0, 1)
    with pytest.raises(InputError):
        store.delete_messages("a ", 2, 0, 1)
    assert store.export(a) == before and _counts(store) == rows
    # A delete bumps the version: a turn made from the same version is refused, and
    # the other way round.
    assert store.delete_messages(a, 2, 3, 4) == 3
    with pytest.raises(VersionConflictError):
        store.append_turn(a, 2, [Message.user("late")], TurnMeta())
    store.append_turn(a, 3, [Message.user("next")], TurnMeta())
    with pytest.raises(VersionConflictError):
        store.delete_messages(a, 3, 0, 1)
    assert _texts(store, a) == ["u0", "a0", "u1", "next"]


def test_a_cut_through_a_tool_round_is_refused(store: SQLStore) -> None:
    store.append_turn("t", 0, tool_turn("x"), TurnMeta(), create=ConversationHeader(id="t"))
    # question x, call, answer x, reply x
    with pytest.raises(InputError, match="message 2 would answer a tool call"):
        store.delete_messages("t", 1, 1, 2)  # the call without its answer
    with pytest.raises(InputError, match="from message 2: it answers a tool call"):
        store.delete_messages("t", 1, 2, 3)  # the answer without its call
    assert store.load("t").version == 1
    assert store.delete_messages("t", 1, 1, 3) == 2  # the whole round
    assert _texts(store, "t") == ["question x", "reply x"]


def test_forks_keep_their_history_and_the_last_one_out_collects(store: SQLStore, a: str) -> None:
    b = store.fork(a, at=3, new_id="b")  # u0 a0 u1, shared
    store.append_turn(b, 1, [Message.assistant("b1")], TurnMeta())
    c = store.fork(b, at=4, new_id="c")  # u0 a0 u1 b1: reads b's row 3
    store.append_turn(c, 1, [Message.user("c2")], TurnMeta())
    store.delete_messages(a, 2, 1, 2)  # a0 out of a: b and c read it
    assert _texts(store, a) == ["u0", "u1", "a1"]
    assert _texts(store, b) == ["u0", "a0", "u1", "b1"]
    store.delete_messages(b, 2, 3, 4)  # b1 out of b: c reads it
    assert _texts(store, b) == ["u0", "a0", "u1"]
    assert _texts(store, c) == ["u0", "a0", "u1", "b1", "c2"]
    store.delete_messages(c, 2, 0, 1)  # an inherited message out of c
    assert _texts(store, c) == ["a0", "u1", "b1", "c2"]
    assert _texts(store, a) == ["u0", "u1", "a1"]
    assert _texts(store, b) == ["u0", "a0", "u1"]
    assert store.load(c, tail=2).messages == store.load(c).messages[-2:]
    assert _texts(store, store.fork(b, at=2, new_id="d")) == ["u0", "a0"]
    for cid in (a, b, c, "d"):
        store.delete(cid)
    assert _counts(store) == dict.fromkeys(_counts(store), 0)  # every tombstone collected


def test_turns_keep_their_usage_and_the_export_imports(store: SQLStore, a: str) -> None:
    totals = store.totals(a)
    store.delete_messages(a, 2, 1, 3)  # a0 (turn 1) and u1 (turn 2)
    assert store.totals(a) == totals  # the usage was spent
    data = store.export(a)
    assert [(t["first_seq"], t["n_messages"]) for t in data["turns"]] == [(0, 1), (1, 1)]
    copy = store.import_(data, new_id=True)
    assert _texts(store, copy) == ["u0", "a1"]
    store.delete_messages(a, 3, 0, 2)
    assert [(t["first_seq"], t["n_messages"]) for t in store.export(a)["turns"]] == [
        (0, 0),
        (0, 0),
    ]


def test_the_preview_follows_the_first_user_message(store: SQLStore, a: str) -> None:
    store.delete_messages(a, 2, 0, 2)
    assert store.list()[0].preview == "u1"
    store.delete_messages(a, 3, 0, 1)
    assert store.list()[0].preview == ""  # ConversationSummary shows no user message as ""


def test_a_branch_appears_where_a_shared_message_was_cut(store: SQLStore, a: str) -> None:
    b = store.fork(a, at=4, new_id="b")
    store.append_turn(b, 1, [Message.user("more")], TurnMeta())
    assert store.branches(a) == []  # a is b's prefix
    store.delete_messages(a, 2, 1, 2)
    # At 1, b keeps the original a0 (written first), a now holds u1.
    assert store.branches(a) == [Branch(position=1, conversations=["b", "a"], index=1)]


def test_a_failure_at_each_write_changes_nothing(store: SQLStore, a: str) -> None:
    b = store.fork(a, at=3, new_id="b")
    store.append_turn(b, 1, [Message.assistant("b1")], TurnMeta())
    writes = _each_write_fails(store, lambda: store.delete_messages(a, 2, 1, 2))
    assert writes >= 5
    assert _texts(store, a) == ["u0", "u1", "a1"]
    assert _texts(store, b) == ["u0", "a0", "u1", "b1"]


def test_racing_deleters_one_wins(db_url: str) -> None:
    with SQLStore(db_url) as store:
        store.append_turn("r", 0, FOUR, TurnMeta(), create=ConversationHeader(id="r"))
        outcomes: list[str] = []
        gate = threading.Barrier(4)

        def deleter(n: int) -> None:
            gate.wait()
            try:
                store.delete_messages("r", 1, n, n + 1)
                outcomes.append("ok")
            except VersionConflictError:
                outcomes.append("conflict")

        threads = [threading.Thread(target=deleter, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["conflict"] * 3 + ["ok"]
        loaded = store.load("r")
        assert (len(loaded.messages), loaded.version) == (3, 2)


def test_async_delete_messages(db_url: str) -> None:
    async def main() -> list[str]:
        async with AsyncSQLStore(db_url) as store:
            await store.append_turn("x", 0, FOUR, TurnMeta(), create=ConversationHeader(id="x"))
            assert await store.delete_messages("x", 1, 3, 4) == 2
            return [m.text for m in (await store.load("x")).messages]

    assert asyncio.run(main()) == ["u0", "a0", "u1"]


def test_random_edits_keep_every_history_and_collect_everything(store: SQLStore) -> None:
    """Forks, turns, cuts and deletions at random, checked against plain lists."""
    import random

    rng = random.Random(17)
    counter = iter(range(100_000))
    model: dict[str, list[str]] = {}

    def say(cid: str, n: int) -> None:
        texts = [f"m{next(counter)}" for _ in range(n)]
        version = store.load(cid, tail=0).version
        store.append_turn(cid, version, [Message.user(t) for t in texts], TurnMeta())
        model[cid].extend(texts)

    store.append_turn(
        "r", 0, [Message.user("m-root")], TurnMeta(), create=ConversationHeader(id="r")
    )
    model["r"] = ["m-root"]
    for n in range(40):
        cid = rng.choice(sorted(model))
        roll = rng.random()
        if roll < 0.35:
            at = rng.randint(0, len(model[cid]))
            new = store.fork(cid, at=at, new_id=f"f{n}")
            model[new] = model[cid][:at]
            say(new, rng.randint(1, 3))
        elif roll < 0.7 and model[cid]:
            start = rng.randrange(len(model[cid]))
            stop = rng.randint(start + 1, len(model[cid]))
            store.delete_messages(cid, store.load(cid, tail=0).version, start, stop)
            del model[cid][start:stop]
        elif roll < 0.85 and len(model) > 1:
            store.delete(cid)
            del model[cid]
        else:
            say(cid, rng.randint(1, 2))
        for other, texts in model.items():
            assert _texts(store, other) == texts, (n, other)
            tail = store.load(other, tail=2)
            assert [m.text for m in tail.messages] == texts[-2:]
    for cid in list(model):
        store.delete(cid)
    assert _counts(store) == dict.fromkeys(_counts(store), 0)
