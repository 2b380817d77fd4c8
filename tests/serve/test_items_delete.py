"""Deleting items (OpenAI's call, through the SDK), with ids that stay put."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from convo.store.aio import AsyncSQLStore
from convo.store.base import StoredConversation
from tests.serve.conftest import KEYS, Served, serve
from tests.store.conftest import db_url  # noqa: F401  (the fixture, every backend)
from tests.support import ChatServer

openai = pytest.importorskip("openai")


def texts(client: Any, cid: str) -> list[tuple[str, str]]:
    """(id, text) of every item, oldest first."""
    page = client.conversations.items.list(cid, limit=100, order="asc")
    out = []
    for item in page.data:
        text = item.content[0].text if item.type == "message" else item.type
        out.append((item.id, text))
    return out


def five(client: Any) -> str:
    conv = client.conversations.create(
        items=[
            {"type": "message", "role": "user" if i % 2 == 0 else "assistant", "content": f"m{i}"}
            for i in range(5)
        ]
    )
    return str(conv.id)


@pytest.fixture
def on_every_backend(upstream: ChatServer, db_url: str) -> Iterator[Served]:  # noqa: F811
    yield from serve(upstream, db_url)


def test_delete_keeps_the_other_ids_and_a_stale_id_is_a_404(on_every_backend: Served) -> None:
    client = on_every_backend.client()
    cid = five(client)
    before = texts(client, cid)
    gone = client.conversations.items.delete(before[1][0], conversation_id=cid)
    assert gone.object == "conversation" and gone.id == cid
    after = texts(client, cid)
    assert after == [before[0], *before[2:]]
    for item_id, text in after:  # each id still names its own message
        assert (
            client.conversations.items.retrieve(item_id, conversation_id=cid).content[0].text
            == text
        )
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.delete(before[1][0], conversation_id=cid)
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(before[1][0], conversation_id=cid)
    client.conversations.items.create(cid, items=[{"role": "user", "content": "new"}])
    newest = texts(client, cid)[-1]
    assert newest[1] == "new" and newest[0] not in {i for i, _ in before}
    assert texts(client, cid)[:-1] == after


def test_pagination_walks_the_ids_after_a_deletion(served: Served) -> None:
    client = served.client()
    cid = five(client)
    ids = [i for i, _ in texts(client, cid)]
    client.conversations.items.delete(ids[2], conversation_id=cid)
    first = client.conversations.items.list(cid, limit=2, order="asc")
    assert [i.id for i in first.data] == ids[:2] and first.has_more
    assert first.first_id == ids[0] and first.last_id == ids[1]
    rest = client.conversations.items.list(cid, limit=10, order="asc", after=first.last_id)
    assert [i.id for i in rest.data] == ids[3:] and not rest.has_more
    newest = client.conversations.items.list(cid, limit=2, after=ids[4])  # desc
    assert [i.id for i in newest.data] == [ids[3], ids[1]]
    with pytest.raises(openai.BadRequestError):  # a deleted item is no place to start
        client.conversations.items.list(cid, after=ids[2])


def test_positions_are_not_ids(served: Served) -> None:
    client = served.client()
    cid = five(client)
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.delete("item_1", conversation_id=cid)
    assert len(texts(client, cid)) == 5


def test_two_deletes_read_at_one_version_one_gets_a_409(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = served.client()
    cid = five(client)
    ids = [i for i, _ in texts(client, cid)]
    both_read = threading.Barrier(2, timeout=10)
    load = AsyncSQLStore.load

    async def in_step(self: AsyncSQLStore, cid: str, **kw: Any) -> StoredConversation:
        stored = await load(self, cid, **kw)
        if kw.get("keys"):  # the delete's read: wait until the other has read too
            import asyncio

            await asyncio.to_thread(both_read.wait)
        return stored

    monkeypatch.setattr(AsyncSQLStore, "load", in_step)

    def delete(item_id: str) -> str:
        try:
            client.conversations.items.delete(item_id, conversation_id=cid)
            return "deleted"
        except openai.ConflictError as exc:
            return f"409 {exc.body['code']}"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(delete, [ids[0], ids[3]]))
    monkeypatch.undo()
    assert outcomes == ["409 conversation_busy", "deleted"]
    left = [i for i, _ in texts(client, cid)]
    assert len(left) == 4 and (ids[0] in left) != (ids[3] in left)


def tool_round(client: Any) -> str:
    conv = client.conversations.create(
        items=[
            {"type": "message", "role": "user", "content": "weather?"},
            {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": "{}"},
            {"type": "function_call", "call_id": "c2", "name": "time", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
            {"type": "function_call_output", "call_id": "c2", "output": "noon"},
            {"type": "message", "role": "assistant", "content": "sunny at noon"},
        ]
    )
    return str(conv.id)


def test_an_item_of_a_tool_round_goes_only_with_its_round(served: Served) -> None:
    client = served.client()
    cid = tool_round(client)
    before = texts(client, cid)
    assert [t for _, t in before] == [
        "weather?",
        "function_call",
        "function_call",
        "function_call_output",
        "function_call_output",
        "sunny at noon",
    ]
    for item_id, _ in before[1:5]:
        with pytest.raises(openai.BadRequestError) as err:
            client.conversations.items.delete(item_id, conversation_id=cid)
        assert err.value.body["code"] == "tool_round" and err.value.body["param"] == "item_id"
        assert "whole_round=true" in err.value.body["message"]
    assert texts(client, cid) == before  # nothing lost
    client.conversations.items.delete(
        before[3][0], conversation_id=cid, extra_query={"whole_round": "true"}
    )
    assert texts(client, cid) == [before[0], before[5]]


def test_a_plain_message_next_to_a_round_deletes_alone(served: Served) -> None:
    client = served.client()
    cid = tool_round(client)
    before = texts(client, cid)
    client.conversations.items.delete(before[5][0], conversation_id=cid)
    client.conversations.items.delete(before[0][0], conversation_id=cid)
    assert texts(client, cid) == before[1:5]


def test_another_tenants_item_cannot_be_deleted(keyed: Served) -> None:
    alice, bob = keyed.client(KEYS[0]), keyed.client(KEYS[1])
    cid = five(alice)
    ids = [i for i, _ in texts(alice, cid)]
    with pytest.raises(openai.NotFoundError):
        bob.conversations.items.delete(ids[0], conversation_id=cid)
    assert [i for i, _ in texts(alice, cid)] == ids
