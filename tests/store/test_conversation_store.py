"""Conversation + store, end to end, on each backend (the test id names it)."""

from __future__ import annotations

import pytest

from convo import (
    APIConnectionError,
    AsyncConversation,
    Conversation,
    ScriptedTransport,
    Template,
    VersionConflictError,
)
from convo.store.sql import SQLStore
from convo.transports.testing import tool_calls


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def test_saved_as_it_happens_and_resumed(store: SQLStore) -> None:
    conv = Conversation(
        "Be terse.",
        model="gpt-4o-mini",
        transport=ScriptedTransport("Hi."),
        store=store,
        tools=[add],
        temperature=0.3,
        title="maths",
    )
    assert store.latest() is None  # nothing is stored before a turn completes
    conv.send("Hello")
    loaded = Conversation.load(conv.id, store=store, transport=ScriptedTransport("again"))
    assert loaded.messages == conv.messages
    assert loaded.system == "Be terse." and loaded.params == {"temperature": 0.3}
    assert loaded.model == "gpt-4o-mini" and loaded.title == "maths"
    loaded.send("Once more")
    assert [m.text for m in Conversation.load(conv.id, store=store).messages] == [
        "Be terse.",
        "Hello",
        "Hi.",
        "Once more",
        "again",
    ]
    turns = store.turns(conv.id)
    assert len(turns) == 2 and turns[0].model == "gpt-4o-mini"
    assert turns[0].usage is not None and turns[0].latency_ms is not None


def test_tool_turn_is_stored_whole(store: SQLStore) -> None:
    fake = ScriptedTransport(tool_calls(("add", {"a": 2, "b": 3})), "5")
    conv = Conversation(model="m", transport=fake, store=store, tools=[add])
    conv.send("2+3?")
    roles = [m.role for m in Conversation.load(conv.id, store=store).messages]
    assert roles == ["user", "assistant", "tool", "assistant"]


def test_failed_turn_stores_nothing(store: SQLStore) -> None:
    fake = ScriptedTransport("ok", tool_calls(("add", {"a": 1, "b": 1})), APIConnectionError("x"))
    conv = Conversation(model="m", transport=fake, store=store, tools=[add])
    conv.send("first")
    with pytest.raises(APIConnectionError):
        conv.send("second")
    assert Conversation.load(conv.id, store=store).messages == conv.messages
    assert len(conv.messages) == 2


def test_two_writers_one_loses_cleanly(store: SQLStore) -> None:
    a = Conversation(model="m", transport=ScriptedTransport("1", "2"), store=store)
    a.send("start")
    b = Conversation.load(a.id, store=store, transport=ScriptedTransport("b"))
    b.send("from b")
    with pytest.raises(VersionConflictError):
        a.send("from a")  # a is stale: its turn is refused, not interleaved
    assert len(a.messages) == 2  # and a's memory is unchanged
    fresh = Conversation.load(a.id, store=store)
    assert [m.text for m in fresh.messages] == ["start", "1", "from b", "b"]


def test_fork_edits_a_past_message(store: SQLStore) -> None:
    conv = Conversation("s", model="m", transport=ScriptedTransport("a1", "a2", "b2"), store=store)
    conv.send("q1")
    conv.send("q2")
    edited = conv.fork(at=2)  # keep q1/a1, regenerate from an edited q2
    edited.send("q2, edited")
    assert [m.text for m in edited.messages] == ["s", "q1", "a1", "q2, edited", "b2"]
    assert [m.text for m in Conversation.load(conv.id, store=store).messages][-1] == "a2"
    assert edited.id != conv.id


def test_template_and_hash_recorded(store: SQLStore) -> None:
    template = Template("You help with {{ product }}.", name="helper")
    conv = Conversation(
        template,
        variables={"product": "Acme"},
        model="m",
        transport=ScriptedTransport("ok"),
        store=store,
    )
    conv.send("hi")
    assert conv.messages[0].text == "You help with Acme."
    turn = store.turns(conv.id)[0]
    assert turn.template_name == "helper" and turn.template_hash == template.hash
    loaded = Conversation.load(conv.id, store=store)
    assert loaded.messages[0].text == "You help with Acme."


def test_export_import_round_trip(store: SQLStore) -> None:
    conv = Conversation("s", model="m", transport=ScriptedTransport("é 🤖 中文\u2028"), store=store)
    conv.send("text ✓")
    data = store.export(conv.id)
    new_id = store.import_(data, new_id=True)
    assert Conversation.load(new_id, store=store).messages == conv.messages


async def test_async_conversation_with_sync_store(store: SQLStore) -> None:
    conv = AsyncConversation(model="m", transport=ScriptedTransport("a", "b"), store=store)
    await conv.send("1")
    await conv.send("2")
    again = await AsyncConversation.load(conv.id, store=store)
    assert again.messages == conv.messages


async def test_async_conversation_with_async_store(db_url: str) -> None:
    from convo import AsyncSQLStore

    store = AsyncSQLStore(db_url)
    try:
        conv = AsyncConversation(model="m", transport=ScriptedTransport("a", "b"), store=store)
        await conv.send("1")
        other = await conv.fork()
        await other.send("2")
        again = await AsyncConversation.load(other.id, store=store)
        assert [m.text for m in again.messages] == ["1", "a", "2", "b"]
        assert [m.text for m in (await AsyncConversation.load(conv.id, store=store)).messages] == [
            "1",
            "a",
        ]
    finally:
        await store.close()


def test_a_summary_survives_a_reload(store: SQLStore) -> None:
    from convo import Message, Summarize

    history = []
    for i in range(60):
        history += [Message.user(f"fact {i}: " + "blah " * 40), Message.assistant("noted " * 20)]
    fake = ScriptedTransport("SUMMARY OF FACTS", "answer 1")
    options = {"context_window": 3000, "max_tokens": 200, "strategy": Summarize()}
    conv = Conversation(
        "sys",
        model="gpt-4",
        messages=history,
        transport=fake,
        store=store,
        metadata={"team": "a"},
        **options,
    )
    conv.send("what did I say?")
    again = ScriptedTransport("answer 2")
    loaded = Conversation.load(conv.id, store=store, transport=again, **options)
    assert loaded.metadata == {"team": "a"}  # the summary is not the user's metadata
    loaded.send("and then?")
    assert len(again.requests) == 1  # no new summary call after the reload
    assert any("SUMMARY OF FACTS" in m.text for m in again.requests[0].messages)
