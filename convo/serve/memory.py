"""Conversations a server keeps: loaded from the store for each request, never cached.

Each request loads the conversation at its current version and runs one turn on it.
The turn's commit is the store's one versioned write, so two requests continuing one
conversation at once cannot interleave: the first commits, the second's write finds a
newer version and fails with :class:`~convo.errors.VersionConflictError` (a 409), with
nothing of it stored - across threads, workers and processes alike.

>>> split_new([{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}])
('s', [{'role': 'user', 'content': 'hi'}])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from convo.conversation import AsyncConversation
from convo.errors import ConversationNotFoundError
from convo.serve.app import Service
from convo.serve.errors import ApiError
from convo.serve.tenants import LISTED, stored_id

__all__ = ["open_conversation", "split_new"]


def split_new(messages: Sequence[Any]) -> tuple[str | None, list[Any]]:
    """A leading plain system message (the prompt), and the rest."""
    items = list(messages)
    if items and isinstance(items[0], dict) and items[0].get("role") == "system":
        content = items[0].get("content")
        if isinstance(content, str):
            return content, items[1:]
    return None, items


async def open_conversation(
    service: Service,
    tenant: str,
    public: str,
    model: str,
    *,
    system: str | None = None,
    tools: Any = None,
    create: bool = True,
    metadata: dict[str, Any] | None = None,
) -> AsyncConversation:
    """The tenant's conversation ``public``, loaded; a new one if it does not exist yet.

    A system prompt given again must be the stored one (400 otherwise): a conversation's
    prompt is set when it is created.
    """
    sid = stored_id(tenant, public)
    transport = service.transport(model)
    try:
        conv = await AsyncConversation.load(
            sid, store=service.store, transport=transport, model=model, tools=tools
        )
    except ConversationNotFoundError:
        if not create:
            raise
        return AsyncConversation(
            system,
            model=model,
            id=sid,
            store=service.store,
            transport=transport,
            tools=tools,
            metadata={**(metadata or {}), LISTED: tenant},
        )
    if system is not None and system != conv.system:
        raise ApiError(
            400,
            "this conversation already has a system prompt; send only the new messages",
            param="messages",
            code="system_prompt_mismatch",
        )
    return conv
