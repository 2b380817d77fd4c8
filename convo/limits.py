"""Usage limits: bounds on what a turn and a conversation may spend.

The checks are decisions of the I/O-free turn (:mod:`convo.turn` calls them): before a
request is sent, with convo's own count of its prompt, and after each reply, with the
server's usage. A bound reached raises :class:`~convo.errors.UsageLimitExceeded`, and
since nothing is committed before the end of a turn, the history stays as it was.

>>> from convo import Conversation, ScriptedTransport
>>> conv = Conversation(model="gpt-4o-mini", transport=ScriptedTransport("Hi."),
...                     limits=UsageLimits(max_turn_tokens=5))
>>> conv.send("Hello, how are you today?")
Traceback (most recent call last):
  ...
convo.errors.UsageLimitExceeded: max_turn_tokens=5 reached: the turn would use 14 tokens
>>> conv.messages
[]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from convo.cost import cost_of
from convo.errors import ParameterError, UsageLimitExceeded
from convo.reply import Usage

__all__ = ["Meter", "UsageLimits"]


@dataclass(frozen=True, slots=True)
class UsageLimits:
    """Bounds; ``None`` means unbounded.

    ``max_requests``: model calls per turn (tool rounds, retries and the summary call
    count). ``max_turn_tokens``: tokens per turn. ``max_total_tokens``: tokens per
    conversation, this turn included. ``max_cost``: USD per conversation (needs a
    model whose price is known).
    """

    max_requests: int | None = None
    max_turn_tokens: int | None = None
    max_total_tokens: int | None = None
    max_cost: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_requests", "max_turn_tokens", "max_total_tokens", "max_cost"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ParameterError(f"{name} must be a number >= 0, got {value!r}", param=name)
            if name != "max_cost" and not isinstance(value, int):
                raise ParameterError(f"{name} must be an integer, got {value!r}", param=name)


class Meter:
    """One turn's spending against the limits: ``before`` each request, ``after`` each
    reply. ``spent_tokens`` and ``spent_cost`` are the conversation's committed totals."""

    __slots__ = ("limits", "model", "price", "requests", "spent_cost", "spent_tokens")

    def __init__(
        self,
        limits: UsageLimits,
        model: str,
        spent_tokens: int = 0,
        spent_cost: float = 0.0,
        *,
        prices: Callable[[str | None, Usage | None], float | None] | None = None,
    ) -> None:
        self.price = prices or cost_of
        self.limits = limits
        self.model = model
        self.requests = 0
        self.spent_tokens = spent_tokens
        self.spent_cost = spent_cost

    def before(self, turn_usage: Usage | None, prompt_tokens: int | None) -> None:
        """Refuse a request that would pass a limit, counting its prompt locally."""
        limits = self.limits
        if limits.max_requests is not None and self.requests + 1 > limits.max_requests:
            raise _exceeded("max_requests", self.requests + 1, limits.max_requests, "requests")
        self.requests += 1
        prompt = prompt_tokens or 0
        turn = (turn_usage.total_tokens if turn_usage else 0) + prompt
        self._tokens(turn, "would use")
        if limits.max_cost is not None:
            asked = Usage(prompt_tokens=prompt, total_tokens=prompt)
            self._cost(_add(turn_usage, asked), "would cost")

    def after(self, turn_usage: Usage | None, model: str | None = None) -> None:
        """Stop the turn once the server's usage has passed a limit."""
        if turn_usage is None:
            return
        self._tokens(turn_usage.total_tokens, "used")
        if self.limits.max_cost is not None:
            self._cost(turn_usage, "cost", model)

    def _tokens(self, turn: int, verb: str) -> None:
        limits = self.limits
        if limits.max_turn_tokens is not None and turn > limits.max_turn_tokens:
            raise _exceeded("max_turn_tokens", turn, limits.max_turn_tokens, "tokens", verb)
        total = self.spent_tokens + turn
        if limits.max_total_tokens is not None and total > limits.max_total_tokens:
            raise _exceeded(
                "max_total_tokens", total, limits.max_total_tokens, "tokens", verb, "conversation"
            )

    def _cost(self, usage: Usage | None, verb: str, model: str | None = None) -> None:
        maximum = self.limits.max_cost
        assert maximum is not None
        cost = self.price(model or self.model, usage)
        if cost is None:
            raise ParameterError(
                f"max_cost is set but the price of model {model or self.model!r} is unknown",
                param="max_cost",
            )
        total = self.spent_cost + cost
        if total > maximum:
            raise UsageLimitExceeded(
                f"max_cost={maximum} reached: the conversation {verb} ${total:.6f}",
                limit="max_cost",
                value=total,
                maximum=maximum,
            )


def _add(a: Usage | None, b: Usage) -> Usage:
    if a is None:
        return b
    return Usage(
        prompt_tokens=a.prompt_tokens + b.prompt_tokens,
        completion_tokens=a.completion_tokens,
        total_tokens=a.total_tokens + b.total_tokens,
    )


def _exceeded(
    limit: str, value: int, maximum: int, unit: str, verb: str = "would make", who: str = "turn"
) -> UsageLimitExceeded:
    if unit == "requests":
        text = f"{limit}={maximum} reached: the turn would make request {value}"
    else:
        text = f"{limit}={maximum} reached: the {who} {verb} {value} {unit}"
    return UsageLimitExceeded(text, limit=limit, value=value, maximum=maximum)
