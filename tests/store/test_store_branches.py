"""Sibling branches: edits of a message, switched between as chat UIs do ("2 of 3")."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from convo.errors import ConversationNotFoundError, InputError
from convo.messages import Message
from convo.store.aio import AsyncSQLStore
from convo.store.base import Branch, ConversationHeader, TurnMeta
from convo.store.sql import SQLStore


def _say(store: SQLStore, cid: str, *texts: str) -> None:
    """Append one turn of alternating user/assistant messages."""
    version = store.load(cid, tail=0).version
    msgs = [Message.user(t) if (i % 2 == 0) else Message.assistant(t) for i, t in enumerate(texts)]
    store.append_turn(cid, version, msgs, TurnMeta())
    time.sleep(0.002)  # distinct updated_at: "the one continued last" must be decidable


def _edit(store: SQLStore, cid: str, at: int, *texts: str, new_id: str) -> str:
    """What a chat UI does when the message at ``at`` is edited or regenerated."""
    fork = store.fork(cid, at=at, new_id=new_id)
    version = store.load(fork, tail=0).version
    history = store.load(cid).messages
    roles = ["user", "assistant"]
    if at < len(history) and history[at].role == "assistant":
        roles.reverse()  # a regenerated reply
    msgs = [Message(role=roles[i % 2], content=t) for i, t in enumerate(texts)]
    store.append_turn(fork, version, msgs, TurnMeta())
    time.sleep(0.002)
    return fork


@pytest.fixture
def chat(store: SQLStore) -> SQLStore:
    store.append_turn(
        "a",
        0,
        [Message.user("u0"), Message.assistant("a0"), Message.user("u1"), Message.assistant("a1")],
        TurnMeta(),
        create=ConversationHeader(id="a"),
    )
    return store


def test_edits_of_a_message_are_its_siblings_in_the_order_written(chat: SQLStore) -> None:
    assert chat.branches("a") == []
    _edit(chat, "a", 2, "u1 edited", "a1 again", new_id="b")
    _edit(chat, "a", 2, "u1 third", "a1 third", new_id="c")
    assert chat.branches("a") == [Branch(position=2, conversations=["a", "b", "c"], index=0)]
    assert chat.branches("b") == [Branch(position=2, conversations=["a", "b", "c"], index=1)]
    assert chat.branches("c") == [Branch(position=2, conversations=["a", "b", "c"], index=2)]
    # Every sibling shares the history before the branch point and differs at it.
    texts = {cid: [m.text for m in chat.load(cid).messages] for cid in "abc"}
    assert texts["a"][:2] == texts["b"][:2] == texts["c"][:2]
    assert [texts[c][2] for c in "abc"] == ["u1", "u1 edited", "u1 third"]


def test_a_regenerated_reply_nests_and_switching_opens_the_branch_continued_last(
    chat: SQLStore,
) -> None:
    _edit(chat, "a", 2, "u1 edited", "a1 first", new_id="b")
    _edit(chat, "a", 2, "u1 third", "a1 third", new_id="c")
    _edit(chat, "b", 3, "a1 regenerated", new_id="d")  # a new reply to b's edit
    assert chat.branches("b") == [
        Branch(position=2, conversations=["a", "b", "c"], index=1),
        Branch(position=3, conversations=["b", "d"], index=0),
    ]
    # d holds b's edited message at 2: from d, that sibling is d itself.
    assert chat.branches("d") == [
        Branch(position=2, conversations=["a", "d", "c"], index=1),
        Branch(position=3, conversations=["b", "d"], index=1),
    ]
    # From a, the second sibling (b's edit) opens the branch under it continued last.
    assert chat.branches("a") == [Branch(position=2, conversations=["a", "d", "c"], index=0)]
    _say(chat, "b", "u2", "a2")
    assert chat.branches("a") == [Branch(position=2, conversations=["a", "b", "c"], index=0)]


def test_an_edit_of_the_first_message_is_a_sibling_through_forked_from(chat: SQLStore) -> None:
    _edit(chat, "a", 0, "u0 edited", "a0 again", new_id="e")
    _edit(chat, "e", 0, "u0 once more", new_id="f")  # an edit of the edit
    expected = ["a", "e", "f"]
    for i, cid in enumerate(expected):
        assert chat.branches(cid) == [Branch(position=0, conversations=expected, index=i)]


def test_a_link_through_a_collected_conversation_is_lost_for_forks_at_0(
    chat: SQLStore,
) -> None:
    _edit(chat, "a", 0, "u0 b", new_id="b")
    _edit(chat, "b", 0, "u0 c", new_id="c")  # c shares no row with b or a
    _edit(chat, "b", 1, "a0 d", new_id="d")  # d shares b's first row
    chat.delete("b")  # d keeps b's row: a tombstone, its forked_from link stays
    assert chat.branches("a") == [Branch(position=0, conversations=["a", "d", "c"], index=0)]
    chat.delete("d")  # b's row is collected: the link from c to a is gone
    assert chat.branches("a") == []
    assert chat.branches("c") == []


def test_prefixes_continuations_and_empty_forks_are_not_siblings(chat: SQLStore) -> None:
    _edit(chat, "a", 4, "u2", "a2", new_id="longer")  # continues a: a is its prefix
    chat.fork("a", at=2, new_id="empty")  # forked, nothing said yet
    chat.fork("a", at=0, new_id="empty0")
    assert chat.branches("a") == []
    assert chat.branches("longer") == []
    assert chat.branches("empty") == []
    _say(chat, "a", "u2'", "a2'")  # now a and longer part at 4
    assert chat.branches("a") == [Branch(position=4, conversations=["longer", "a"], index=1)]


def test_deleted_conversations_are_not_offered(chat: SQLStore) -> None:
    _edit(chat, "a", 2, "u1 b", "a1 b", new_id="b")
    _edit(chat, "b", 3, "a1 d", new_id="d")
    _edit(chat, "a", 2, "u1 c", "a1 c", new_id="c")
    chat.delete("c")
    assert chat.branches("a") == [Branch(position=2, conversations=["a", "d"], index=0)]
    chat.delete("b")  # d still holds b's message: that sibling stays, opened as d
    assert chat.branches("a") == [Branch(position=2, conversations=["a", "d"], index=0)]
    assert chat.branches("d") == [Branch(position=2, conversations=["a", "d"], index=1)]
    chat.delete("a")
    assert chat.branches("d") == []
    with pytest.raises(ConversationNotFoundError):
        chat.branches("a")


def test_bad_ids_are_refused(store: SQLStore) -> None:
    with pytest.raises(ConversationNotFoundError):
        store.branches("nope")
    with pytest.raises(InputError):
        store.branches("a ")


def test_random_fork_trees_match_a_reference_built_from_loaded_histories(store: SQLStore) -> None:
    """Every message's text is unique, so equal text means the same message: the reference
    computes siblings from nothing but the loaded histories."""
    rng = random.Random(14)
    counter = iter(range(10_000))
    store.append_turn(
        "root",
        0,
        [Message.user(f"m{next(counter)}")],
        TurnMeta(),
        create=ConversationHeader(id="root"),
    )
    ids = ["root"]
    for n in range(30):
        cid = rng.choice(ids)
        count = len(store.load(cid).messages)
        if rng.random() < 0.6:
            at = rng.randint(0, count)
            new = store.fork(cid, at=at, new_id=f"c{n}")
            ids.append(new)
            cid = new
        texts = [f"m{next(counter)}" for _ in range(rng.randint(1, 3))]
        _say(store, cid, *texts)
    histories = {cid: [m.text for m in store.load(cid).messages] for cid in ids}
    for cid in ids:
        mine = histories[cid]
        expected: dict[int, set[str]] = {}
        for other, theirs in histories.items():
            k = 0
            while k < min(len(mine), len(theirs)) and mine[k] == theirs[k]:
                k += 1
            if other != cid and k < len(mine) and k < len(theirs):
                expected.setdefault(k, {mine[k]}).add(theirs[k])
        got = store.branches(cid)
        assert [b.position for b in got] == sorted(expected)
        for b in got:
            at = b.position
            shown = [histories[c][at] for c in b.conversations]
            assert set(shown) == expected[at] and len(shown) == len(expected[at])
            # oldest message first (texts count up as they are written)
            assert shown == sorted(shown, key=lambda t: int(t[1:]))
            assert b.conversations[b.index] == cid
            assert all(histories[c][:at] == mine[:at] for c in b.conversations)


def test_async_branches_match_the_sync_ones(db_url: str) -> None:
    async def main() -> list[Branch]:
        async with AsyncSQLStore(db_url) as store:
            await store.append_turn(
                "a",
                0,
                [Message.user("u0"), Message.assistant("a0")],
                TurnMeta(),
                create=ConversationHeader(id="a"),
            )
            fork = await store.fork("a", at=1, new_id="b")
            await store.append_turn(fork, 1, [Message.assistant("a0'")], TurnMeta())
            return await store.branches("b")

    got = asyncio.run(main())
    assert got == [Branch(position=1, conversations=["a", "b"], index=1)]
    with SQLStore(db_url) as sync:
        assert sync.branches("b") == got
