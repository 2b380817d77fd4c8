"""The Conversations API, and Responses through ``conversation``, with the official SDK."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.serve.conftest import KEYS, Served
from tests.support.chatserver import Answer

openai = pytest.importorskip("openai")


def contents(served: Served) -> list[str]:
    return [m.get("content") or "" for m in served.upstream.requests[-1].json["messages"]]


def test_crud(served: Served) -> None:
    client = served.client()
    conv = client.conversations.create(
        items=[
            {"type": "message", "role": "user", "content": "remember 42"},
            {"type": "message", "role": "assistant", "content": "ok"},
        ],
        metadata={"topic": "numbers"},
    )
    assert conv.object == "conversation" and conv.metadata == {"topic": "numbers"}
    assert client.conversations.retrieve(conv.id).id == conv.id
    updated = client.conversations.update(conv.id, metadata={"topic": "maths"})
    assert updated.metadata == {"topic": "maths"}
    gone = client.conversations.delete(conv.id)
    assert gone.deleted and gone.object == "conversation.deleted"
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(conv.id)


def test_items_list_create_retrieve(served: Served) -> None:
    client = served.client()
    conv = client.conversations.create()
    added = client.conversations.items.create(
        conv.id, items=[{"type": "message", "role": "user", "content": f"m{i}"} for i in range(5)]
    )
    ids = [i.id for i in added.data]
    assert len(set(ids)) == 5 and all(i.startswith("item_") for i in ids)
    page = client.conversations.items.list(conv.id, limit=2, order="asc")
    assert [i.content[0].text for i in page.data] == ["m0", "m1"] and page.has_more
    rest = client.conversations.items.list(conv.id, limit=10, order="asc", after=page.last_id)
    assert [i.content[0].text for i in rest.data] == ["m2", "m3", "m4"] and not rest.has_more
    newest = client.conversations.items.list(conv.id, limit=1)
    assert newest.data[0].content[0].text == "m4"
    assert [i.id for i in client.conversations.items.list(conv.id, order="asc").data] == ids
    item = client.conversations.items.retrieve(ids[3], conversation_id=conv.id)
    assert item.content[0].text == "m3"
    with pytest.raises(openai.BadRequestError):
        client.conversations.items.list(conv.id, limit=101)
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve("item_99", conversation_id=conv.id)


def test_five_turns_through_conversation_remember(served: Served) -> None:
    client = served.client()
    conv = client.conversations.create()
    for i in range(5):
        r = client.responses.create(model="m", input=f"t{i}", conversation=conv.id)
        assert r.output_text == f"echo: t{i}"
    assert contents(served) == [x for i in range(5) for x in (f"t{i}", f"echo: t{i}")][:-1]
    items = client.conversations.items.list(conv.id, limit=100, order="asc")
    assert len(items.data) == 10
    with pytest.raises(openai.NotFoundError):  # part of the conversation, not kept apart
        client.responses.retrieve(r.id)


def test_chat_header_and_conversations_are_one_object(served: Served) -> None:
    client = served.client()
    conv = client.conversations.create(
        items=[{"role": "user", "content": "seeded"}, {"role": "assistant", "content": "noted"}]
    )
    client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "next"}],
        extra_headers={"X-Convo-Conversation": conv.id},
    )
    assert contents(served) == ["seeded", "noted", "next"]


async def test_conversation_race_is_a_409(served: Served) -> None:
    client = served.aclient()
    conv = await client.conversations.create()
    served.upstream.script(Answer("one", delay=0.5), Answer("two", delay=0.5))

    async def turn(text: str) -> Any:
        return await client.responses.create(model="m", input=text, conversation=conv.id)

    results = await asyncio.gather(turn("a"), turn("b"), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["ConflictError", "Response"]
    items = await client.conversations.items.list(conv.id, limit=100)
    assert len(items.data) == 2
    await client.close()


def test_stream_in_a_conversation(served: Served) -> None:
    client = served.client()
    conv = client.conversations.create()
    events = list(client.responses.create(model="m", input="s", conversation=conv.id, stream=True))
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == "echo: s"
    assert len(client.conversations.items.list(conv.id).data) == 2


def test_another_tenants_conversation_is_a_404(keyed: Served) -> None:
    alice, bob = keyed.client(KEYS[0]), keyed.client(KEYS[1])
    conv = alice.conversations.create(items=[{"role": "user", "content": "alice secret"}])
    for call in (
        lambda: bob.conversations.retrieve(conv.id),
        lambda: bob.conversations.items.list(conv.id),
        lambda: bob.conversations.delete(conv.id),
        lambda: bob.responses.create(model="m", input="x", conversation=conv.id),
    ):
        with pytest.raises(openai.NotFoundError):
            call()
    assert alice.conversations.retrieve(conv.id).id == conv.id


def test_too_many_items(served: Served) -> None:
    with pytest.raises(openai.BadRequestError):
        served.client().conversations.create(items=[{"role": "user", "content": "x"}] * 21)
