"""What HTTP transports share: one transport per endpoint and key in the process, and
one async client per event loop.

A conversation that names only a model gets the process's transport for that
endpoint and key (:func:`shared_transport`), so a thousand conversations use one
connection pool, not a thousand; the process closes it at exit, never a
conversation. A pooled connection belongs to the event loop that opened it, so a
transport keeps one async client per running loop (:class:`LoopClients`): loops in two
threads, or one ``asyncio.run()`` after another, never replace each other's pool.

>>> from convo.transports.openai import OpenAITransport
>>> key = ("openai", "http://127.0.0.1:9/v1", None)
>>> shared_transport(key, lambda: OpenAITransport("http://127.0.0.1:9/v1")).shared
True
>>> close_shared()
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import threading
import weakref
from collections.abc import AsyncGenerator, Callable, Hashable
from typing import Generic, Protocol, TypeVar

from convo.transports.base import Transport

__all__ = ["LoopClients", "close_shared", "key_digest", "shared_transport"]

T = TypeVar("T", bound=Transport)

# The one process-wide registry the issue asks for ("one transport per endpoint and
# key"): guarded by a lock, keyed by everything that picks the endpoint, and holding
# transports only (each keeps its own per-loop clients), never request data.
_shared: dict[Hashable, Transport] = {}
_lock = threading.Lock()


def key_digest(api_key: str | None) -> str | None:
    """A key as the registry keeps it: a digest, so no repr or dump can show the key."""
    return None if api_key is None else hashlib.sha256(api_key.encode()).hexdigest()


def shared_transport(key: Hashable, make: Callable[[], T]) -> T:
    """The process's transport for ``key``, made by ``make()`` the first time.

    It is marked ``shared``: conversations do not close it; :func:`close_shared` (run
    at exit) does.
    """
    with _lock:
        found = _shared.get(key)
        if found is None:
            found = make()
            found.shared = True
            _shared[key] = found
    return found  # type: ignore[return-value]  # make() built it for this key


def close_shared() -> None:
    """Close and forget every shared transport (their blocking clients; an async client
    belongs to its loop, which has ended by exit)."""
    with _lock:
        transports = list(_shared.values())
        _shared.clear()
    for transport in transports:
        transport.close()


atexit.register(close_shared)


class _Closing(Protocol):
    async def aclose(self) -> None: ...


C = TypeVar("C", bound=_Closing)


class LoopClients(Generic[C]):
    """One client per running event loop, made by ``make()`` on the loop's first use.

    Each client is closed when its loop shuts down: ``asyncio.run()`` (and any runner
    that calls the documented ``loop.shutdown_asyncgens()``) closes the open async
    generators of the loop, and each client has one whose ``finally`` closes it. So
    a shared transport used from one ``asyncio.run()`` after another leaves no
    connection open. Entries go when their loop is garbage-collected (weak keys).
    """

    def __init__(self, make: Callable[[], C]) -> None:
        self._make = make
        self._clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[C, AsyncGenerator[None, None]]
        ] = weakref.WeakKeyDictionary()

    async def get(self) -> C:
        """The running loop's client (made now if this loop has none)."""
        loop = asyncio.get_running_loop()
        held = self._clients.get(loop)
        if held is None:
            # No lock: the loop's own coroutines never run this line concurrently, and
            # another thread's loop has another key.
            client = self._make()
            closer = _close_at_shutdown(client)
            await closer.__anext__()  # registered with the loop from here on
            held = self._clients[loop] = (client, closer)
        return held[0]

    async def aclose(self) -> None:
        """Close the running loop's client, if it has one (another loop's client can
        only be closed on that loop)."""
        held = self._clients.pop(asyncio.get_running_loop(), None)
        if held is not None:
            await held[1].aclose()


async def _close_at_shutdown(client: _Closing) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        await client.aclose()
