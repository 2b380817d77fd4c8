"""Small builders shared by the store tests."""

from __future__ import annotations

import uuid

from convo.messages import FunctionCall, Message, ToolCall
from convo.reply import Usage
from convo.store.base import ConversationHeader, TurnMeta
from convo.store.sql import SQLStore


def new_id() -> str:
    return uuid.uuid4().hex


def tool_turn(tag: str) -> list[Message]:
    """A user message, a tool call, its answer and the final reply."""
    call = ToolCall(id=f"call-{tag}", function=FunctionCall(name="lookup", arguments='{"q": 1}'))
    return [
        Message.user(f"question {tag}"),
        Message.assistant(tool_calls=[call]),
        Message.tool(f"answer {tag}", tool_call_id=f"call-{tag}", name="lookup"),
        Message.assistant(f"reply {tag}"),
    ]


def meta(n: int = 1) -> TurnMeta:
    return TurnMeta(
        usage=Usage(prompt_tokens=10 * n, completion_tokens=n, total_tokens=11 * n),
        model="gpt-test",
        params={"temperature": 0.5},
        finish_reason="stop",
        latency_ms=12.5,
        template_name="t",
        template_hash="abc",
    )


def create(
    store: SQLStore,
    cid: str | None = None,
    *,
    title: str | None = None,
    metadata: dict[str, object] | None = None,
    turn: list[Message] | None = None,
) -> str:
    """A stored conversation with one turn."""
    cid = cid or new_id()
    header = ConversationHeader(
        id=cid, model="gpt-test", system="Be brief.", title=title, metadata=metadata or {}
    )
    store.append_turn(
        cid, 0, turn or [Message.user("hi"), Message.assistant("hello")], meta(), create=header
    )
    return cid
