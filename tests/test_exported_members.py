"""The public face is pinned: changing it is a decision, not an accident."""

from __future__ import annotations

import convo


def test_all_is_sorted_and_importable() -> None:
    assert convo.__all__ == sorted(convo.__all__)
    for name in convo.__all__:
        assert getattr(convo, name) is not None, name


def test_public_names() -> None:
    expected = {
        "AsyncConversation",
        "Conversation",
        "Message",
        "Reply",
        "Request",
        "Usage",
        "Choice",
        "ScriptedTransport",
        "FunctionTransport",
        "Transport",
        "OpenAITransport",
        "ConvoError",
        "count_tokens",
        "tool",
        "ToolRegistry",
        "Template",
        "SQLStore",
        "AsyncSQLStore",
    }
    assert expected <= set(convo.__all__)


def test_event_types_are_exported() -> None:
    # What Conversation.events() yields is importable from convo itself (issue #13).
    for name in ("TextDelta", "ToolCallEvent", "ToolResultEvent", "PartialOutput", "Finished"):
        assert name in convo.__all__, name
        assert getattr(convo, name) is getattr(convo.events, name)


def test_every_error_derives_from_the_root() -> None:
    for name in convo.errors.__all__:
        obj = getattr(convo.errors, name)
        if isinstance(obj, type):
            assert issubclass(obj, convo.ConvoError), name
