"""The request a conversation sends: a value that says exactly what the model will see.

``Conversation.prepare()`` returns one without sending it; transports receive one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from convo.messages import Message

__all__ = ["Request"]


@dataclass(frozen=True, slots=True)
class Request:
    """What is sent, and how it was fitted into the model's window.

    ``body`` is the JSON payload, as a dict; ``messages`` the messages in it, system
    first; ``dropped`` the history messages left out to fit ``budget``;
    ``prompt_tokens`` convo's count of the prompt (tool schemas included).
    """

    model: str
    messages: tuple[Message, ...]
    body: dict[str, Any]
    stream: bool = False
    tools: tuple[dict[str, Any], ...] = ()
    prompt_tokens: int | None = None
    budget: int | None = None
    dropped: Sequence[Message] = field(default=(), repr=False)

    @property
    def params(self) -> dict[str, Any]:
        """The body without ``model`` and ``messages``."""
        return {k: v for k, v in self.body.items() if k not in ("model", "messages")}
