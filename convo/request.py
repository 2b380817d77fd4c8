"""The request a conversation sends: a value that says exactly what the model will see.

``Conversation.prepare()`` returns one without sending it; transports receive one.
:class:`RequestOptions` are how it is sent (timeout, extra headers and query, retries),
never part of the body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from convo.messages import Message

__all__ = ["Request", "RequestOptions"]


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """Per-request transport options, as openai-python takes them; None means the
    transport's own setting. They travel beside the body, never in it.

    >>> RequestOptions(timeout=5.0, extra_headers={"X-Trace": "1"}).max_retries is None
    True
    """

    timeout: Any = None  # seconds, or an httpx2.Timeout
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    extra_query: Mapping[str, Any] = field(default_factory=dict)
    max_retries: int | None = None

    def __repr__(self) -> str:
        # Header values may be credentials (a per-call Authorization): names only.
        return (
            f"RequestOptions(timeout={self.timeout!r}, "
            f"extra_headers={sorted(self.extra_headers)!r}, "
            f"extra_query={sorted(self.extra_query)!r}, max_retries={self.max_retries!r})"
        )


NO_OPTIONS = RequestOptions()


@dataclass(frozen=True, slots=True)
class Request:
    """What is sent, and how it was fitted into the model's window.

    ``body`` is the JSON payload, as a dict of its own (editing it changes nothing
    else); ``messages`` the messages in it, system first; ``dropped`` the history
    messages left out to fit ``budget``; ``prompt_tokens`` convo's count of the prompt
    (tool schemas included); ``options`` how to send it (see :class:`RequestOptions`).
    """

    model: str
    messages: tuple[Message, ...]
    body: dict[str, Any]
    stream: bool = False
    tools: tuple[dict[str, Any], ...] = ()
    prompt_tokens: int | None = None
    budget: int | None = None
    dropped: Sequence[Message] = field(default=(), repr=False)
    options: RequestOptions = NO_OPTIONS

    @property
    def params(self) -> dict[str, Any]:
        """The body without ``model`` and ``messages``."""
        return {k: v for k, v in self.body.items() if k not in ("model", "messages")}
