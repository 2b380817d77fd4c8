"""Fallback routing: try an ordered list of transports, move on when one fails in a listed way.

Each :class:`Route` is a transport, optionally with the model name to send it (so
``gpt-4o`` on OpenAI can fall back to ``claude-sonnet-4-5`` on Anthropic) and a name
to record. A route is left for the next one only on a failure whose type is in
``on`` (by default :data:`DEFAULT_ON`: rate limits, 5xx, connection failures and
timeouts), never on a 400 or a 401; a stream falls back only before its first
chunk. The reply's ``model`` is the name of the route that answered, so the stored
turn records it too. A route that failed ``trip_after`` times in a row is skipped
for ``cooldown`` seconds (a circuit breaker), then tried again.

>>> from convo.transports.testing import ScriptedTransport
>>> from convo.request import Request
>>> from convo.messages import Message
>>> from convo.errors import RateLimitError
>>> busy = ScriptedTransport(RateLimitError("slow down", status_code=429))
>>> spare = ScriptedTransport("hi")
>>> fallback = FallbackTransport(Route(busy, name="primary"), Route(spare, name="spare"))
>>> reply = fallback.complete(Request("m", (Message.user("x"),), {"model": "m", "messages": []}))
>>> reply.text, reply.model
('hi', 'spare')
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from convo.errors import APIConnectionError, InternalServerError, ParameterError, RateLimitError
from convo.reply import Reply
from convo.request import Request
from convo.transports.base import Chunk, Transport

__all__ = ["DEFAULT_ON", "FallbackTransport", "Route"]

DEFAULT_ON: tuple[type[Exception], ...] = (RateLimitError, InternalServerError, APIConnectionError)
"""429, every 5xx (Anthropic's 529 too), connection failures and timeouts."""


@dataclass(frozen=True)
class Route:
    """A transport to try; ``model`` replaces the request's model name for it."""

    transport: Transport
    model: str | None = None
    name: str | None = None

    @property
    def label(self) -> str | None:
        return self.name or self.model


class _Breaker:
    """Consecutive failures per route; shared by every request, so locked."""

    def __init__(self, count: int, trip_after: int, cooldown: float, clock: Callable[[], float]):
        self._failures = [0] * count
        self._opened: list[float | None] = [None] * count
        self._trip_after = trip_after
        self._cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()

    def order(self) -> list[int]:
        """Routes to try now: closed ones first in order; if all are open, all of them."""
        now = self._clock()
        with self._lock:
            ready = [
                i
                for i, opened in enumerate(self._opened)
                if opened is None or now - opened >= self._cooldown
            ]
        return ready or list(range(len(self._opened)))

    def failed(self, i: int) -> None:
        with self._lock:
            self._failures[i] += 1
            if self._failures[i] >= self._trip_after:
                self._opened[i] = self._clock()

    def succeeded(self, i: int) -> None:
        with self._lock:
            self._failures[i] = 0
            self._opened[i] = None


class FallbackTransport(Transport):
    """Tries ``routes`` in order; sync and async, streaming or not.

    ``on`` lists the failure types that move to the next route. Any other error (a
    400, a 401, a broken reply) is raised at once: another provider would refuse the
    same request, or the fault is the caller's. When every route failed, the last
    failure is raised, with a note per earlier one.
    """

    def __init__(
        self,
        *routes: Route | Transport,
        on: Sequence[type[Exception]] = DEFAULT_ON,
        trip_after: int = 3,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not routes:
            raise ParameterError("FallbackTransport needs at least one route", param="routes")
        if trip_after < 1:
            raise ParameterError("trip_after must be >= 1", param="trip_after")
        self.routes = tuple(r if isinstance(r, Route) else Route(r) for r in routes)
        self.on = tuple(on)
        self.structured_output = self.routes[0].transport.structured_output
        self._breaker = _Breaker(len(self.routes), trip_after, cooldown, clock)

    def __repr__(self) -> str:
        return f"FallbackTransport({', '.join(repr(r.label or r.transport) for r in self.routes)})"

    def _request(self, route: Route, request: Request) -> Request:
        if route.model is None:
            return request
        return request.replace(model=route.model, body={**request.body, "model": route.model})

    def _answered(self, route: Route, reply: Reply) -> Reply:
        label = route.label
        return reply if label is None else reply.model_copy(update={"model": label})

    def _give_up(self, errors: list[Exception]) -> Exception:
        last = errors[-1]
        for error in errors[:-1]:
            last.add_note(f"an earlier route failed: {type(error).__name__}: {error}")
        return last

    def complete(self, request: Request) -> Reply:
        errors: list[Exception] = []
        for i in self._breaker.order():
            route = self.routes[i]
            try:
                reply = route.transport.complete(self._request(route, request))
            except self.on as exc:
                self._breaker.failed(i)
                errors.append(exc)
                continue
            self._breaker.succeeded(i)
            return self._answered(route, reply)
        raise self._give_up(errors)

    async def acomplete(self, request: Request) -> Reply:
        errors: list[Exception] = []
        for i in self._breaker.order():
            route = self.routes[i]
            try:
                reply = await route.transport.acomplete(self._request(route, request))
            except self.on as exc:
                self._breaker.failed(i)
                errors.append(exc)
                continue
            self._breaker.succeeded(i)
            return self._answered(route, reply)
        raise self._give_up(errors)

    def stream(self, request: Request) -> Iterator[Chunk]:
        errors: list[Exception] = []
        for i in self._breaker.order():
            route = self.routes[i]
            it = route.transport.stream(self._request(route, request))
            try:
                first = next(it)
            except StopIteration:
                self._breaker.succeeded(i)
                return
            except self.on as exc:
                _close(it)
                self._breaker.failed(i)
                errors.append(exc)
                continue
            # From here the caller holds text from this route: no other route may answer.
            self._breaker.succeeded(i)
            try:
                yield _label(first, route)
                for chunk in it:
                    yield _label(chunk, route)
            finally:
                _close(it)
            return
        raise self._give_up(errors)

    async def astream(self, request: Request) -> AsyncIterator[Chunk]:
        errors: list[Exception] = []
        for i in self._breaker.order():
            route = self.routes[i]
            it = route.transport.astream(self._request(route, request))
            try:
                first = await anext(it)
            except StopAsyncIteration:
                self._breaker.succeeded(i)
                return
            except self.on as exc:
                await _aclose(it)
                self._breaker.failed(i)
                errors.append(exc)
                continue
            self._breaker.succeeded(i)
            try:
                yield _label(first, route)
                async for chunk in it:
                    yield _label(chunk, route)
            finally:
                await _aclose(it)
            return
        raise self._give_up(errors)

    def close(self) -> None:
        for route in self.routes:
            route.transport.close()

    async def aclose(self) -> None:
        for route in self.routes:
            await route.transport.aclose()


def _label(chunk: Chunk, route: Route) -> Chunk:
    label = route.label
    return chunk if label is None else {**chunk, "model": label}


def _close(it: Any) -> None:
    close = getattr(it, "close", None)
    if close is not None:
        close()


async def _aclose(it: Any) -> None:
    close = getattr(it, "aclose", None)
    if close is not None:
        await close()
