"""Persistence: conversations saved turn by turn in SQLite, PostgreSQL or MariaDB.

Only values cross this boundary (:class:`~convo.messages.Message` and the values in
:mod:`convo.store.base`); the ORM rows stay inside. See docs/store.md.

SQLAlchemy and Alembic are imported only when a store class is first used, so that
``import convo`` stays fast for programs that never store anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from convo.store.base import (
    Branch,
    ConversationHeader,
    ConversationSummary,
    Store,
    StoredConversation,
    TurnMeta,
)

if TYPE_CHECKING:
    from convo.store.aio import AsyncSQLStore
    from convo.store.sql import SQLStore

__all__ = [
    "AsyncSQLStore",
    "Branch",
    "ConversationHeader",
    "ConversationSummary",
    "SQLStore",
    "Store",
    "StoredConversation",
    "TurnMeta",
]


def __getattr__(name: str) -> Any:
    if name == "SQLStore":
        from convo.store.sql import SQLStore

        return SQLStore
    if name == "AsyncSQLStore":
        from convo.store.aio import AsyncSQLStore

        return AsyncSQLStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
