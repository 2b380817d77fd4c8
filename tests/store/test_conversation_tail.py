"""``Conversation.load(id, tail=N)``: only the tail is read, but positions (fork points,
the summary's coverage, a suspended turn) stay those of the whole stored history."""

from __future__ import annotations

from convo import AsyncConversation, Conversation, Message, ScriptedTransport, Summarize
from convo.store.aio import AsyncSQLStore
from convo.store.sql import SQLStore
from convo.transports.testing import tool_calls


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def _five_turns(store: SQLStore) -> Conversation:
    conv = Conversation(
        "Be terse.", model="gpt-4o-mini", transport=ScriptedTransport(*"abcde"), store=store
    )
    for word in ("one", "two", "three", "four", "five"):
        conv.send(word)
    return conv


def test_a_tail_is_continued_on_the_whole_history(store: SQLStore) -> None:
    whole = _five_turns(store)
    tail = Conversation.load(whole.id, store=store, transport=ScriptedTransport("f"), tail=4)
    assert tail.history == whole.history[-4:]
    tail.send("six")
    stored = store.load(whole.id).messages
    assert [m.text for m in stored] == [*(m.text for m in whole.history), "six", "f"]


def test_a_fork_of_a_tail_cuts_where_the_tail_says(store: SQLStore) -> None:
    whole = _five_turns(store)
    tail = Conversation.load(whole.id, store=store, transport=ScriptedTransport(), tail=4)
    for at in range(len(tail.history) + 1):
        fork = tail.fork(at=at)
        # The fork holds the whole stored history up to the tail's position `at`.
        assert store.load(fork.id).messages == list(whole.history[: 6 + at])
        assert fork.history == tail.history[:at]


def test_a_tail_never_starts_inside_a_tool_round(store: SQLStore) -> None:
    script = ScriptedTransport(tool_calls(("add", {"a": 1, "b": 2})), "3", "ok")
    conv = Conversation(model="gpt-4o-mini", transport=script, store=store, tools=[add])
    conv.send("add 1 and 2")  # user, assistant(tool_calls), tool, assistant
    conv.send("thanks")  # user, assistant
    for n in range(1, 7):
        tail = Conversation.load(conv.id, store=store, transport=ScriptedTransport(), tail=n)
        assert not tail.history or tail.history[0].role != "tool", n
        kept = len(tail.history)
        assert tail.history == conv.history[len(conv.history) - kept :]
        if kept:
            fork = tail.fork(at=kept)
            assert store.load(fork.id).messages == list(conv.history)


async def test_async_tail_forks_on_the_whole_history(db_url: str) -> None:
    async with AsyncSQLStore(db_url) as store:
        conv = AsyncConversation(model="m", transport=ScriptedTransport(*"abc"), store=store)
        for word in ("one", "two", "three"):
            await conv.send(word)
        tail = await AsyncConversation.load(
            conv.id, store=store, transport=ScriptedTransport(), tail=2
        )
        fork = await tail.fork(at=1)
        assert (await store.load(fork.id)).messages == list(conv.history[:5])


def test_a_summary_survives_a_tail_load(store: SQLStore) -> None:
    history = []
    for i in range(40):
        history += [Message.user(f"fact {i}: " + "blah " * 40), Message.assistant("ok " * 20)]
    fake = ScriptedTransport("SUMMARY-TEXT", "first answer")
    conv = Conversation(
        "sys", model="gpt-4", messages=history, transport=fake, store=store,
        context_window=3000, max_tokens=200, strategy=Summarize(),
    )  # fmt: skip
    conv.send("what did I say?")
    assert conv._summary is not None
    for tail in (None, 30, 4):
        again = ScriptedTransport("next answer")
        loaded = Conversation.load(
            conv.id, store=store, transport=again, tail=tail,
            context_window=3000, max_tokens=200, strategy=Summarize(),
        )  # fmt: skip
        loaded.send("and now?")
        (request,) = again.requests  # the summary was reused: no new summary call
        sent = [m.text or "" for m in request.messages]
        assert any("SUMMARY-TEXT" in text for text in sent), tail
        assert not any(text.startswith("fact 0:") for text in sent), tail
