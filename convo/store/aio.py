"""AsyncSQLStore: the same store, awaited. Each call runs the sync store in a worker thread.

Why threads and not an async engine: one code path serves every backend (SQLAlchemy's
async engine needs greenlet plus a separate async driver per database), a turn is one
short transaction, and the measured overhead of the hop is small next to a commit (see
docs/store.md and benchmarks/bench_store.py). Cancelling an awaiting task does not cut a
transaction in half: the thread finishes it, committed or rolled back as a whole.

>>> import asyncio, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "doc.db")
>>> async def main():
...     async with AsyncSQLStore(f"sqlite:///{path}") as store:
...         return await store.latest()
>>> asyncio.run(main()) is None
True
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Self

from convo.messages import Message
from convo.store._engine import Durability
from convo.store.base import (
    Branch,
    ConversationHeader,
    ConversationSummary,
    StoredConversation,
    Totals,
    TurnMeta,
)
from convo.store.sql import SQLStore

__all__ = ["AsyncSQLStore"]


class AsyncSQLStore:
    """:class:`SQLStore` with every method a coroutine. Same arguments, same errors.

    ``sync`` is the underlying :class:`SQLStore`, for code that is not async.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        busy_timeout: float = 5.0,
        echo: bool = False,
        durability: Durability = "normal",
    ):
        self.sync = SQLStore(url, busy_timeout=busy_timeout, echo=echo, durability=durability)

    def __repr__(self) -> str:
        return f"Async{self.sync!r}"

    async def append_turn(
        self,
        conversation_id: str,
        expected_version: int,
        messages: Sequence[Message],
        meta: TurnMeta,
        *,
        create: ConversationHeader | None = None,
        metadata: Mapping[str, Any] | None = None,
        keys: Sequence[str] | None = None,
    ) -> int:
        """See :meth:`SQLStore.append_turn`."""
        return await asyncio.to_thread(
            self.sync.append_turn,
            conversation_id,
            expected_version,
            messages,
            meta,
            create=create,
            metadata=metadata,
            keys=keys,
        )

    async def load(
        self, conversation_id: str, *, tail: int | None = None, keys: bool = False
    ) -> StoredConversation:
        """See :meth:`SQLStore.load`."""
        return await asyncio.to_thread(self.sync.load, conversation_id, tail=tail, keys=keys)

    async def header(self, conversation_id: str) -> ConversationHeader:
        """See :meth:`SQLStore.header`."""
        return await asyncio.to_thread(self.sync.header, conversation_id)

    async def set_title(self, conversation_id: str, title: str | None) -> None:
        """See :meth:`SQLStore.set_title`."""
        await asyncio.to_thread(self.sync.set_title, conversation_id, title)

    async def update_header(self, conversation_id: str, **fields: Any) -> ConversationHeader:
        """See :meth:`SQLStore.update_header`."""
        return await asyncio.to_thread(self.sync.update_header, conversation_id, **fields)

    async def fork(self, conversation_id: str, *, at: int, new_id: str | None = None) -> str:
        """See :meth:`SQLStore.fork`."""
        return await asyncio.to_thread(self.sync.fork, conversation_id, at=at, new_id=new_id)

    async def list(
        self,
        *,
        limit: int = 20,
        offset: int = 0,
        title: str | None = None,
        text: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        before: tuple[datetime, str] | None = None,
    ) -> builtins.list[ConversationSummary]:
        """See :meth:`SQLStore.list`."""
        return await asyncio.to_thread(
            self.sync.list,
            limit=limit,
            offset=offset,
            title=title,
            text=text,
            metadata=metadata,
            before=before,
        )

    async def ids(self, prefix: str, *, limit: int = 10) -> builtins.list[str]:
        """See :meth:`SQLStore.ids`."""
        return await asyncio.to_thread(self.sync.ids, prefix, limit=limit)

    async def latest(self) -> str | None:
        """See :meth:`SQLStore.latest`."""
        return await asyncio.to_thread(self.sync.latest)

    async def branches(self, conversation_id: str) -> builtins.list[Branch]:
        """See :meth:`SQLStore.branches`."""
        return await asyncio.to_thread(self.sync.branches, conversation_id)

    async def delete_messages(
        self, conversation_id: str, expected_version: int, start: int, stop: int
    ) -> int:
        """See :meth:`SQLStore.delete_messages`."""
        return await asyncio.to_thread(
            self.sync.delete_messages, conversation_id, expected_version, start, stop
        )

    async def delete(self, conversation_id: str) -> None:
        """See :meth:`SQLStore.delete`."""
        await asyncio.to_thread(self.sync.delete, conversation_id)

    async def totals(self, conversation_id: str | None = None) -> Totals:
        """See :meth:`SQLStore.totals`."""
        return await asyncio.to_thread(self.sync.totals, conversation_id)

    async def turns(self, conversation_id: str) -> builtins.list[TurnMeta]:
        """See :meth:`SQLStore.turns`."""
        return await asyncio.to_thread(self.sync.turns, conversation_id)

    async def export(self, conversation_id: str) -> dict[str, Any]:
        """See :meth:`SQLStore.export`."""
        return await asyncio.to_thread(self.sync.export, conversation_id)

    async def import_(
        self, data: Mapping[str, Any], *, new_id: bool = False, keep_token_counts: bool = False
    ) -> str:
        """See :meth:`SQLStore.import_`."""
        return await asyncio.to_thread(
            self.sync.import_, data, new_id=new_id, keep_token_counts=keep_token_counts
        )

    async def close(self) -> None:
        """Close the pooled connections."""
        await asyncio.to_thread(self.sync.close)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
