"""The Anthropic transport: :class:`AnthropicFormat` over convo's own HTTP driver.

Built on convo's driver, not the official ``anthropic`` SDK: by measurement
(``benchmarks/bench_formats.py``) the driver's per-call and per-chunk overhead is a
small multiple of a raw ``httpx2`` client's, and it shares convo's retry policy and
error tree, which the SDK would need to be translated into.

>>> t = AnthropicTransport("http://127.0.0.1:9", api_key="sk-ant-never-shown")
>>> t
AnthropicTransport(url='http://127.0.0.1:9/v1/messages')
>>> t.close()
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import httpx2

from convo.transports.formats import DEFAULT_TIMEOUT, FormatTransport
from convo_anthropic.format import AnthropicFormat

__all__ = ["CONTEXT_WINDOW", "DEFAULT_BASE_URL", "AnthropicTransport"]

DEFAULT_BASE_URL = "https://api.anthropic.com"
CONTEXT_WINDOW = 200_000
"""Anthropic's documented context window for its Claude models (3, 3.5, 3.7, 4, 4.5)."""


class AnthropicTransport(FormatTransport):
    """Talks to ``{base_url}/v1/messages``; sync and async, streaming or not.

    With no ``base_url`` it reads ``ANTHROPIC_BASE_URL``, then uses Anthropic's; with
    no ``api_key`` it reads ``ANTHROPIC_API_KEY`` (sent as ``x-api-key``). Anthropic's
    ``overloaded_error`` (529) is retried like a 503.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | httpx2.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        base_url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL
        if api_key is None:
            api_key = os.environ.get("ANTHROPIC_API_KEY") or None
        super().__init__(
            AnthropicFormat(),
            base_url,
            api_key,
            timeout=timeout,
            max_retries=max_retries,
            headers=headers,
        )

    def context_window(self, model: str) -> int | None:
        """The documented window for ``claude-*`` models (the budget uses it).

        convo counts tokens with tiktoken, not Claude's tokenizer: the budget is an
        estimate, and ``Reply.prompt_tokens_error`` shows how far off it was.
        """
        name = model.removeprefix("anthropic:")
        return CONTEXT_WINDOW if name.startswith("claude-") else None
