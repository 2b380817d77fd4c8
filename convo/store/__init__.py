"""Persistence: conversations saved turn by turn in SQLite, PostgreSQL or MariaDB.

Only values cross this boundary (:class:`~convo.messages.Message` and the values in
:mod:`convo.store.base`); the ORM rows stay inside. See docs/store.md.

Every name is imported on first use: SQLAlchemy and Alembic when a store class is
first used, so that ``import convo`` stays fast for programs that never store anything,
and pydantic when a value is, so that ``convo ls`` (``_peek``) needs neither.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from convo.store._peek import peek
    from convo.store.aio import AsyncSQLStore
    from convo.store.base import (
        Branch,
        ConversationHeader,
        ConversationSummary,
        Store,
        StoredConversation,
        TurnMeta,
    )
    from convo.store.sql import SQLStore

_LAZY = {
    "AsyncSQLStore": "convo.store.aio",
    "Branch": "convo.store.base",
    "ConversationHeader": "convo.store.base",
    "ConversationSummary": "convo.store.base",
    "SQLStore": "convo.store.sql",
    "Store": "convo.store.base",
    "StoredConversation": "convo.store.base",
    "TurnMeta": "convo.store.base",
    "peek": "convo.store._peek",
}

__all__ = [
    "AsyncSQLStore",
    "Branch",
    "ConversationHeader",
    "ConversationSummary",
    "SQLStore",
    "Store",
    "StoredConversation",
    "TurnMeta",
    "peek",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
