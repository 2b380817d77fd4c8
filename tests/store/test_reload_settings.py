"""What ``Conversation.load`` restores from the store, and what must be given again
(docs/store.md, "What a reload restores"), on every backend."""

from __future__ import annotations

from convo import Conversation, Message, ScriptedTransport, Summarize, Template
from convo.store.sql import SQLStore


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def test_a_reload_restores_the_data_and_not_the_code(store: SQLStore) -> None:
    conv = Conversation(
        Template("You are {{ who }}."), variables={"who": "terse"}, model="gpt-4o-mini",
        transport=ScriptedTransport("Hi."), store=store, tools=[add], temperature=0.2,
        context_window=5000, reserve_tokens=100, max_tool_rounds=3, strategy=Summarize(),
        title="maths", metadata={"k": "v"}, timeout=5, tool_timeout=7, choose=0,
    )  # fmt: skip
    assert conv._own == {"choose": 0}
    conv.send("Hello")
    loaded = Conversation.load(conv.id, store=store, transport=ScriptedTransport())
    # Data: restored.
    assert isinstance(loaded.system, Template) and loaded.system.source == conv.system.source
    assert loaded.messages == conv.messages  # the rendered system prompt and the history
    assert (loaded.model, loaded.title, loaded.metadata) == ("gpt-4o-mini", "maths", {"k": "v"})
    assert loaded.params == {"temperature": 0.2}
    assert loaded.version == conv.version
    # Code and per-process settings: back to their defaults until given again.
    fresh = Conversation(model="gpt-4o-mini", transport=ScriptedTransport())
    for name in ("context_window", "reserve_tokens", "max_tool_rounds", "strategy", "tool_timeout"):
        assert getattr(loaded, name) == getattr(fresh, name), name
    assert len(loaded.tools) == len(fresh.tools) == 0
    assert loaded._options == fresh._options  # timeout and other transport options
    assert loaded._own == fresh._own == {}  # response_format and choose defaults
    again = Conversation.load(
        conv.id, store=store, transport=ScriptedTransport(), tools=[add], context_window=5000,
        max_tool_rounds=3, tool_timeout=7,
    )  # fmt: skip
    assert (again.context_window, again.max_tool_rounds, again.tool_timeout) == (5000, 3, 7)
    assert "add" in again.tools


def test_a_developer_message_is_restored_as_it_was(store: SQLStore) -> None:
    system = Message(role="developer", content="Be exact.", name="rules")
    conv = Conversation(system, model="m", transport=ScriptedTransport("ok"), store=store)
    conv.send("Hi")
    loaded = Conversation.load(conv.id, store=store, transport=ScriptedTransport())
    assert loaded.messages[0] == system
