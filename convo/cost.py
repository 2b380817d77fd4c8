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

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from convo.reply import Usage

__all__ = ["add_cost", "cost_of"]

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
    rates = _rates(model)
    if rates is None:
        return _table_price(model, usage)
    cached = _cached_tokens(usage)
    inp, out, read = rates
    return (
        (usage.prompt_tokens - cached) * inp + cached * read + usage.completion_tokens * out
    ) / _M


Rates = tuple[float, float, float]

# Each model's flat per-million rates, or None when its price is not three flat rates
# (tiered, per request) or not known, for one price table. ``genai-prices`` validates
# every calculation (about 0.3 ms, more than the rest of an in-memory turn, and paid
# again by every new conversation when this lived on the conversation); the rates are
# a pure function of the model's name and the table, so they are kept per table: the
# key is the table object itself, and a table replaced at run time (genai-prices'
# ``UpdatePrices`` or ``set_custom_snapshot``) starts afresh. The values are immutable
# tuples, nothing of a request is kept, the dict is replaced whole (never edited, so
# safe between threads without a lock), and it is bounded.
_MAX_MODELS = 1024
_memo: tuple[object, dict[str, Rates | None]] = (None, {})


def _rates(model: str) -> Rates | None:
    global _memo
    table = _table()
    if table is None:
        return None
    owner, known = _memo
    if owner is not table:
        known = {}
    if model in known:
        return known[model]
    rates = _flat_rates(model)
    if len(known) < _MAX_MODELS:
        _memo = (table, {**known, model: rates})
    return rates


def _table() -> object:
    """The price table in use (genai-prices imported on first use, not at convo's import)."""
    global _get_snapshot
    if _get_snapshot is None:
        try:
            from genai_prices import data_snapshot
        except ImportError:  # pragma: no cover - a core dependency, but never fatal
            return None
        _get_snapshot = data_snapshot.get_snapshot
    return _get_snapshot()


_get_snapshot: Callable[[], object] | None = None


def _table_price(model: str, usage: Usage) -> float | None:
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


def _flat_rates(model: str) -> Rates | None:
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
