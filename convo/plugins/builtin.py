"""The built-in plugin: OpenAI-compatible servers serve every model name no other plugin claims.

It registers through the same hook as any third-party plugin; the empty prefix makes
it the fallback, so ``model="llama-3.1-8b"`` with ``OPENAI_BASE_URL`` set talks to
that server (without it, :func:`convo.models.get_transport` refuses a name that is
not in ``_OPENAI_MODELS``). The HTTP transport is imported only when a model is used.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from convo.plugins.hookspecs import hookimpl

if TYPE_CHECKING:
    from convo.transports.base import Transport

__all__ = ["RESPONSES_PREFIX", "register_transports"]

RESPONSES_PREFIX = "responses:"

_OPENAI_MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o4-mini")


def _endpoint_key(kind: str) -> tuple[str, str | None, str | None]:
    # Read now, not at import: the environment picks the endpoint for each new conversation.
    from convo.transports.pool import key_digest

    return (
        kind,
        os.environ.get("OPENAI_BASE_URL") or None,
        key_digest(os.environ.get("OPENAI_API_KEY") or None),
    )


def openai_transport(model: str) -> Transport:
    """The process's transport on ``$OPENAI_BASE_URL`` (else OpenAI's), keyed by
    ``$OPENAI_API_KEY``: one per endpoint and key, shared by every conversation."""
    from convo.transports.openai import OpenAITransport
    from convo.transports.pool import shared_transport

    return shared_transport(_endpoint_key("chat"), OpenAITransport)


def responses_transport(model: str) -> Transport:
    """The Responses API on the same server: ``responses:gpt-4.1`` sends ``gpt-4.1``.

    ``models.json`` picks it per model with an alias:
    ``{"aliases": {"gpt-4.1": "responses:gpt-4.1"}}``. Shared as the Chat Completions
    transport is.
    """
    from convo.transports.pool import shared_transport
    from convo.transports.responses import ResponsesTransport

    return shared_transport(_endpoint_key("responses"), ResponsesTransport)


@hookimpl
def register_transports(register: Any) -> None:
    register(_OPENAI_MODELS[0], openai_transport, prefixes=("",))
    register(RESPONSES_PREFIX + "gpt-4.1", responses_transport, prefixes=(RESPONSES_PREFIX,))
    for name in _OPENAI_MODELS[1:]:
        register(name, openai_transport)
