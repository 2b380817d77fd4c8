"""The tool schemas' token count is remembered per conversation, and never stale."""

from __future__ import annotations

from convo import Conversation, ScriptedTransport
from convo.tokens import TokenCounter
from convo.tools import ToolRegistry


def _tool(i: int):  # type: ignore[no-untyped-def]
    def f(city: str) -> str:
        return city

    f.__name__ = f"tool_{i}"
    f.__doc__ = f"Tool {i}."
    return f


def test_the_remembered_count_is_the_count_and_follows_registry_changes() -> None:
    registry = ToolRegistry([_tool(i) for i in range(5)])
    conv = Conversation("sys", model="gpt-4o", tools=registry, transport=ScriptedTransport())
    counter = TokenCounter("gpt-4o")
    bare = Conversation("sys", model="gpt-4o", transport=ScriptedTransport()).prepare("hi")

    def tools_tokens() -> int:
        return (conv.prepare("hi").prompt_tokens or 0) - (bare.prompt_tokens or 0)

    first = tools_tokens()
    assert first == counter.tools(registry.schemas(), has_system=True)
    assert tools_tokens() == first  # remembered
    registry.add(_tool(99))  # a change makes a new schema tuple: counted again
    assert tools_tokens() == counter.tools(registry.schemas(), has_system=True) > first
    external = {"type": "function", "function": {"name": "ext", "parameters": {}}}
    per_call = conv.prepare("hi", tools=[external])
    assert per_call.prompt_tokens == (bare.prompt_tokens or 0) + counter.tools(
        (external,), has_system=True
    )
