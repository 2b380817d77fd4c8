"""Listing and search: the query behind ``SQLStore.list``, built once per call.

Filters combine with AND; ``text`` searches every message of the history, inherited
ones included (through the segments). Keyset pages (``before=``) start strictly after
the last summary's ``(updated_at, id)``, so concurrent writes neither repeat nor skip.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, exists, func, or_, select

from convo.errors import InputError
from convo.store import _codec as codec, _rows as ops
from convo.store._checks import check_id, check_metadata_keys
from convo.store._rows import MD, C, M, S
from convo.store.base import ConversationSummary

__all__ = ["query", "summaries"]


def _contains(backend: str, column: Any, needle: str) -> Any:
    if backend == "sqlite":
        # SQLite's lower() folds ASCII only; the engine registers Python's.
        return func.convo_lower(column).contains(needle.lower(), autoescape=True)
    return column.icontains(needle, autoescape=True)


def query(
    backend: str,
    *,
    limit: int,
    offset: int,
    title: str | None,
    text: str | None,
    metadata: Mapping[str, Any] | None,
    before: tuple[datetime, str] | None,
) -> Select[*tuple[Any, ...]]:
    """The listing's SELECT; bad arguments raise :class:`InputError` before any I/O."""
    if limit < 0 or offset < 0:
        raise InputError("limit and offset must be >= 0")
    check_metadata_keys(metadata or {})
    q = select(
        C.id, C.title, C.model, C.created_at, C.updated_at, C.message_count, C.preview
    ).where(~C.deleted)
    if before is not None:
        if offset:
            raise InputError("give before= or offset=, not both")
        at, last = ops.naive(before[0]), before[1]
        check_id(last)
        q = q.where(or_(C.updated_at < at, and_(C.updated_at == at, C.id < last)))
    if title:
        q = q.where(_contains(backend, C.title, title))
    for key, value in (metadata or {}).items():
        q = q.where(
            exists().where(
                MD.conversation_id == C.id, MD.key == key, MD.value == codec.canonical(value)
            )
        )
    if text:
        in_path = and_(
            M.conversation_id == S.source_id, M.seq >= S.lo, or_(S.hi.is_(None), M.seq < S.hi)
        )
        q = q.where(
            exists(select(M.id).join(S, in_path)).where(
                S.conversation_id == C.id, _contains(backend, M.text, text)
            )
        )
    return q.order_by(C.updated_at.desc(), C.id.desc()).limit(limit).offset(offset)


def summaries(s: Connection, q: Select[*tuple[Any, ...]]) -> list[ConversationSummary]:
    return [
        ConversationSummary(
            id=r.id,
            title=r.title,
            model=r.model,
            created_at=codec.utc(r.created_at),
            updated_at=codec.utc(r.updated_at),
            message_count=r.message_count,
            preview=r.preview or "",
        )
        for r in s.execute(q)
    ]
