"""AsyncSQLStore: the same store, awaited; every public sync method has its coroutine twin."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from convo.errors import ConversationNotFoundError, VersionConflictError
from convo.messages import Message
from convo.store.aio import AsyncSQLStore
from convo.store.base import ConversationHeader, TurnMeta
from convo.store.sql import SQLStore
from tests.store.helpers import meta, new_id, tool_turn


def _public(cls: type) -> set[str]:
    return {n for n, v in vars(cls).items() if callable(v) and not n.startswith("_")}


def test_every_method_has_an_async_twin() -> None:
    assert _public(SQLStore) == _public(AsyncSQLStore)
    for name in _public(AsyncSQLStore):
        assert inspect.iscoroutinefunction(getattr(AsyncSQLStore, name)), name
        sync, asyn = (inspect.signature(getattr(c, name)) for c in (SQLStore, AsyncSQLStore))
        assert list(sync.parameters) == list(asyn.parameters), name


async def test_async_flow(db_url: str) -> None:
    async with AsyncSQLStore(db_url) as store:
        cid = new_id()
        v = await store.append_turn(
            cid, 0, tool_turn("a"), meta(), create=ConversationHeader(id=cid)
        )
        v = await store.append_turn(cid, v, [Message.user("b")], TurnMeta())
        assert (await store.load(cid)).messages == [*tool_turn("a"), Message.user("b")]
        assert (await store.load(cid, tail=1)).messages == [Message.user("b")]
        fork = await store.fork(cid, at=4)
        assert (await store.header(fork)).forked_from == cid
        await store.set_title(cid, "async")
        assert [s.title for s in await store.list(title="async")] == ["async"]
        assert await store.latest() == fork  # the newest; renaming does not reorder
        assert (await store.totals(cid)).total_tokens == 11
        assert len(await store.turns(cid)) == 2
        copy = await store.import_(await store.export(cid), new_id=True)
        assert (await store.load(copy)).messages == (await store.load(cid)).messages
        await store.delete(cid)
        with pytest.raises(ConversationNotFoundError):
            await store.load(cid)
        assert len((await store.load(fork)).messages) == 4


async def test_async_writers_on_one_loop(db_url: str) -> None:
    async with AsyncSQLStore(db_url) as store:
        cid = new_id()
        await store.append_turn(
            cid, 0, [Message.user("0")], TurnMeta(), create=ConversationHeader(id=cid)
        )

        async def writer(tag: str) -> None:
            while True:
                version = (await store.load(cid, tail=0)).version
                try:
                    await store.append_turn(cid, version, [Message.user(tag)], TurnMeta())
                    return
                except VersionConflictError:
                    await asyncio.sleep(0)

        await asyncio.gather(*(writer(str(n)) for n in range(1, 9)))
        texts = [m.text for m in (await store.load(cid)).messages]
        assert sorted(texts, key=int) == [str(n) for n in range(9)]
