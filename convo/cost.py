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

from decimal import Decimal
from typing import Any

from convo.reply import Usage

__all__ = ["Prices", "add_cost", "cost_of"]

# Prices that cannot apply to a chat completion's usage (convo passes none of these
# units), so a model's price of them does not stop the linear fast path.
_UNUSED = {
    "cache_write_mtok",
    "input_audio_mtok",
    "output_audio_mtok",
    "cache_audio_read_mtok",
    "web_searches_kcount",
    "storage_searches_kcount",
}
_LINEAR = ("input_mtok", "output_mtok", "cache_read_mtok")
_M = 1_000_000


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


class Prices:
    """:func:`cost_of`, remembering each model's per-token prices while they are flat.

    ``genai-prices`` validates every calculation (about 0.3 ms, a quarter of an
    in-memory turn); a model whose price is three flat per-million rates (input, output,
    cached input - most are) is priced by those rates after its first lookup. Tiered
    or per-request prices go through ``calc_price`` every time. One per conversation:
    never shared, replaced whole (safe between threads).

    >>> from convo.reply import Usage
    >>> Prices()("gpt-4o-mini", Usage(prompt_tokens=1000, completion_tokens=100))
    0.00021
    """

    __slots__ = ("_rates",)

    def __init__(self) -> None:
        self._rates: dict[str, tuple[float, float, float] | None] = {}

    def __call__(self, model: str | None, usage: Usage | None) -> float | None:
        if usage is None or not model:
            return None
        if model in self._rates:
            rates = self._rates[model]
        else:
            rates = _flat_rates(model)
            self._rates = {**self._rates, model: rates}
        if rates is None:
            return cost_of(model, usage)
        cached = _cached_tokens(usage)
        inp, out, read = rates
        return (
            (usage.prompt_tokens - cached) * inp + cached * read + usage.completion_tokens * out
        ) / _M


def _flat_rates(model: str) -> tuple[float, float, float] | None:
    try:
        from genai_prices import Usage as PriceUsage, calc_price
    except ImportError:  # pragma: no cover
        return None
    try:
        price = calc_price(PriceUsage(input_tokens=1), model_ref=model).model_price
    except LookupError:
        return None
    fields = {k: v for k, v in vars(price).items() if v is not None and not k.startswith("_")}
    if not set(fields) <= {*_LINEAR, *_UNUSED}:
        return None
    values = [fields.get(k) for k in _LINEAR]
    if not all(v is None or isinstance(v, Decimal) for v in values):
        return None
    inp, out, read = (float(v) if v is not None else None for v in values)
    if inp is None or out is None:
        return None
    return (inp, out, inp if read is None else read)


def add_cost(a: float | None, b: float | None) -> float | None:
    """The sum of two costs; unknown (``None``) if either is unknown."""
    if a is None or b is None:
        return None
    return a + b


def _cached_tokens(usage: Usage) -> int:
    details: Any = (usage.model_extra or {}).get("prompt_tokens_details") or {}
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    return int(cached) if isinstance(cached, int) else 0
