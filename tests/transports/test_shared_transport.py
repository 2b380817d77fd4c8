"""Conversations that resolve their transport from the model name share one transport
per endpoint and key in the process (one pool, connections reused); a shared transport
is never closed by a conversation; its async clients are kept per event loop, so loops
in two threads never replace each other's pool."""

from __future__ import annotations

import asyncio
import threading

import pytest

from convo import AsyncConversation, Conversation
from convo.transports import pool
from convo.transports.openai import OpenAITransport
from tests.support import ChatServer


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> ChatServer:
    pool.close_shared()  # an earlier test's server may have had this port
    with ChatServer() as s:
        monkeypatch.setenv("OPENAI_BASE_URL", s.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-shared-one")
        monkeypatch.setenv("CONVO_CONFIG_DIR", "/nonexistent-convo-config")
        yield s
    pool.close_shared()


def test_conversations_by_model_name_share_one_transport_and_connection(
    server: ChatServer,
) -> None:
    first = Conversation("Be brief.", model="gpt-4o-mini")
    second = Conversation("Be brief.", model="gpt-4o-mini")
    first.send("one")
    second.send("two")
    assert first.transport is second.transport
    assert server.total_connections == 1  # the second turn reused the pooled connection

    first.close()  # the process owns a shared transport: closing a conversation keeps it
    second.send("three")
    assert server.total_connections == 1
    with Conversation("x", model="gpt-4o-mini") as third:
        third.send("four")
    second.send("five")
    assert server.total_connections == 1


def test_another_key_or_endpoint_gets_another_transport(
    server: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = Conversation("x", model="gpt-4o-mini").transport
    monkeypatch.setenv("OPENAI_API_KEY", "sk-shared-two")
    second = Conversation("x", model="gpt-4o-mini").transport
    assert first is not second
    with ChatServer() as other:
        monkeypatch.setenv("OPENAI_BASE_URL", other.url)
        third = Conversation("x", model="gpt-4o-mini").transport
    assert third is not second and third is not first
    # The registry never shows a key: it is kept by digest only.
    assert "sk-shared" not in repr(pool._shared)


def test_a_given_transport_is_not_shared(server: ChatServer) -> None:
    mine = OpenAITransport(server.url)
    with Conversation("x", model="gpt-4o-mini", transport=mine) as conv:
        conv.send("hi")
    assert not mine.shared
    assert Conversation("x", model="gpt-4o-mini").transport is not mine
    mine.close()


async def test_async_conversations_share_the_transport(server: ChatServer) -> None:
    first = AsyncConversation("x", model="gpt-4o-mini")
    second = AsyncConversation("x", model="gpt-4o-mini")
    await asyncio.gather(first.send("one"), second.send("two"))
    await first.aclose()
    await second.send("three")
    assert first.transport is second.transport
    assert server.total_connections <= 2  # two overlapping turns, then reuse


def test_event_loops_in_two_threads_keep_their_own_async_clients(server: ChatServer) -> None:
    transport = OpenAITransport(server.url)
    barrier = threading.Barrier(2)
    seen: dict[int, set[int]] = {}
    errors: list[BaseException] = []

    async def turns(n: int) -> None:
        conv = AsyncConversation("x", model="m", transport=transport)
        for i in range(4):
            await conv.send(f"{n}-{i}")
            seen.setdefault(n, set()).add(id(await transport._async_clients.get()))
            await asyncio.to_thread(barrier.wait)  # interleave the two loops' turns

    def run(n: int) -> None:
        try:
            asyncio.run(turns(n))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert all(len(ids) == 1 for ids in seen.values())  # each loop kept its one client
    assert seen[1] != seen[2]
    assert server.total_connections == 2  # one connection per loop, reused for 4 turns
    transport.close()
