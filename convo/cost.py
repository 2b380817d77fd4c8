"""What a model call cost, in USD, from the pydantic team's ``genai-prices`` table.

A model the table does not know - a local model, a test double, a private
deployment - costs ``None``: unknown, never a guess. Prices are looked up by the
model's name (the reply's, else the one asked for), offline, in the table the
installed ``genai-prices`` ships with.

>>> from convo.reply import Usage
>>> cost_of("gpt-4o-mini", Usage(prompt_tokens=1000, completion_tokens=100))
0.00021
>>> cost_of("my-local-model", Usage(prompt_tokens=1000, completion_tokens=100)) is None
True
"""

from __future__ import annotations

from typing import Any

from convo.reply import Usage

__all__ = ["add_cost", "cost_of"]


def cost_of(model: str | None, usage: Usage | None) -> float | None:
    """The price of ``usage`` on ``model`` in USD, or ``None`` when it is not known."""
    if usage is None or not model:
        return None
    try:
        from genai_prices import Usage as PriceUsage, calc_price
    except ImportError:  # pragma: no cover - a core dependency, but never fatal
        return None
    cached = _cached_tokens(usage)
    priced = PriceUsage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        cache_read_tokens=cached or None,
    )
    try:
        calc = calc_price(priced, model_ref=model)
    except LookupError:
        return None
    return float(calc.total_price)


def add_cost(a: float | None, b: float | None) -> float | None:
    """The sum of two costs; unknown (``None``) if either is unknown."""
    if a is None or b is None:
        return None
    return a + b


def _cached_tokens(usage: Usage) -> int:
    details: Any = (usage.model_extra or {}).get("prompt_tokens_details") or {}
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    return int(cached) if isinstance(cached, int) else 0
