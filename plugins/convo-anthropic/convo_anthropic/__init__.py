"""convo-anthropic: Anthropic's Messages API as a convo transport.

Registers the prefixes ``claude-`` (``claude-sonnet-4-5``...) and ``anthropic:``
(``anthropic:claude-opus-4-1`` sends ``claude-opus-4-1``)::

    convo ask -m claude-sonnet-4-5 "What is a closure?"
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from convo.plugins import hookimpl

if TYPE_CHECKING:
    from convo_anthropic.transport import AnthropicTransport

__all__ = ["PREFIX", "AnthropicTransport", "register_transports", "transport_for"]

PREFIX = "anthropic:"


def transport_for(model: str) -> AnthropicTransport:
    """A transport on ``$ANTHROPIC_BASE_URL`` (else Anthropic's), keyed by
    ``$ANTHROPIC_API_KEY``."""
    from convo_anthropic.transport import AnthropicTransport

    return AnthropicTransport()


@hookimpl
def register_transports(register: Any) -> None:
    register("claude-sonnet-4-5", transport_for, prefixes=("claude-", PREFIX))


def __getattr__(name: str) -> Any:
    if name == "AnthropicTransport":
        from convo_anthropic.transport import AnthropicTransport

        return AnthropicTransport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
