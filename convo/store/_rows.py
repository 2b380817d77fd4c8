"""The statements and row-level steps that SQLStore's transactions are made of.

Every function takes the open connection of the caller's transaction; none commits.
Statements are Core statements over the ORM's tables: the ORM unit of work tripled the
cost of a turn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, Table, bindparam, delete, func, insert, select, update

from convo.errors import (
    ConversationNotFoundError,
    CorruptRowError,
    StoreError,
    VersionConflictError,
)
from convo.messages import Message
from convo.store import _codec as codec
from convo.store.base import ConversationHeader
from convo.store.models import (
    Base,
    ConversationRow,
    MessageRow,
    MetadataRow,
    SegmentRow,
    TurnRow,
)

C, M, S, TR, MD = ConversationRow, MessageRow, SegmentRow, TurnRow, MetadataRow


def _table(row: type[Base]) -> Table:
    return Base.metadata.tables[row.__tablename__]


CONVERSATIONS, MESSAGES, SEGMENTS, TURNS, METADATA = (_table(r) for r in (C, M, S, TR, MD))

PREVIEW_LENGTH = 200

# The statements of a turn, built once: building them per call cost more than running them.
BUMP = (
    update(CONVERSATIONS)
    .where(C.id == bindparam("cid"), C.version == bindparam("expected"), ~C.deleted)
    .values(version=C.version + 1, updated_at=bindparam("now"))
)
TIP = select(C.message_count, C.head_id, C.preview).where(C.id == bindparam("cid"))
ADVANCE = (
    update(CONVERSATIONS)
    .where(C.id == bindparam("cid"))
    .values(
        message_count=bindparam("count"), head_id=bindparam("head"), preview=bindparam("preview")
    )
)
INSERT_MESSAGE = insert(MESSAGES)
INSERT_TURN = insert(TURNS)

HEADER_FIELDS = frozenset(
    {
        "model",
        "system",
        "template_name",
        "template_hash",
        "template_source",
        "variables",
        "params",
        "title",
        "metadata",
    }
)
MESSAGE_COLUMNS = (
    M.id,
    M.role,
    M.text,
    M.parts,
    M.name,
    M.tool_calls,
    M.tool_call_id,
    M.refusal,
    M.tokens,
)


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def exists(s: Connection, cid: str) -> bool:
    """Whether the id is taken (deleted conversations kept for their forks included)."""
    return s.execute(select(C.version).where(C.id == cid)).first() is not None


def insert_metadata(s: Connection, cid: str, metadata: Mapping[str, Any]) -> None:
    rows = [
        {"conversation_id": cid, "key": k, "value": codec.canonical(v)} for k, v in metadata.items()
    ]
    if rows:
        s.execute(insert(METADATA), rows)


def preview(messages: Sequence[Message]) -> str | None:
    for m in messages:
        if m.role == "user":
            return m.text[:PREVIEW_LENGTH]
    return None


def naive(value: datetime | None) -> datetime | None:
    return None if value is None else codec.utc(value).replace(tzinfo=None)


def conflict(s: Connection, cid: str, expected: int) -> StoreError:
    row = s.execute(select(C.version, C.deleted).where(C.id == cid)).first()
    if row is None or row.deleted:
        return ConversationNotFoundError(cid)
    return VersionConflictError(
        f"conversation {cid!r} is at version {row.version}, not {expected}: "
        "another writer appended first; reload and retry",
        expected=expected,
        actual=row.version,
    )


def insert_conversation(
    s: Connection,
    h: ConversationHeader,
    now: datetime,
    *,
    version: int,
    count: int = 0,
    head: int | None = None,
    preview: str | None = None,
) -> None:
    s.execute(
        insert(CONVERSATIONS).values(
            id=h.id,
            model=h.model,
            system=h.system,
            template_name=h.template_name,
            template_hash=h.template_hash,
            template_source=h.template_source,
            variables=codec.dumps(h.variables),
            params=codec.dumps(codec.scrub(h.params)),
            title=h.title,
            metadata_json=codec.dumps(h.metadata),
            forked_from=h.forked_from,
            version=version,
            message_count=count,
            head_id=head,
            preview=preview,
            deleted=False,
            created_at=naive(h.created_at) or now,
            updated_at=naive(h.updated_at) or now,
        )
    )
    s.execute(insert(SEGMENTS).values(conversation_id=h.id, source_id=h.id, lo=count, hi=None))
    insert_metadata(s, h.id, h.metadata)


def insert_messages(
    s: Connection,
    cid: str,
    batch: Sequence[Message],
    first_seq: int,
    parent: int | None,
    now: datetime,
) -> int | None:
    for offset, message in enumerate(batch):
        inserted = s.execute(
            INSERT_MESSAGE,
            {
                "conversation_id": cid,
                "seq": first_seq + offset,
                "parent_id": parent,
                "created_at": now,
                **codec.message_to_columns(message),
            },
        )
        key = inserted.inserted_primary_key
        assert key is not None  # a single-row INSERT always reports its key
        parent = key[0]  # the next message's parent
    return parent


def row(s: Connection, cid: str, *, lock: bool = False) -> Row[Any]:
    query = select(CONVERSATIONS).where(C.id == cid, ~C.deleted)
    if lock:
        query = query.with_for_update()
    row = s.execute(query).first()
    if row is None:
        raise ConversationNotFoundError(cid)
    return row


def messages(s: Connection, cid: str, start: int, end: int) -> list[Message]:
    """Messages with ``start <= seq < end``, gathered from the conversation's segments."""
    segments = s.execute(
        select(S.source_id, S.lo, S.hi).where(S.conversation_id == cid).order_by(S.lo)
    ).all()
    out: list[Message] = []
    for source, lo, hi in segments:
        lo, hi = max(lo, start), end if hi is None else min(hi, end)
        if lo >= hi:
            continue
        rows = s.execute(
            select(*MESSAGE_COLUMNS)
            .where(M.conversation_id == source, M.seq >= lo, M.seq < hi)
            .order_by(M.seq)
        ).all()
        if len(rows) != hi - lo:
            raise CorruptRowError(
                f"expected {hi - lo} messages with seq in [{lo}, {hi}), found {len(rows)}",
                table="convo_messages",
                row_id=source,
            )
        out.extend(codec.message_from_row(r) for r in rows)
    return out


def collect(s: Connection, cid: str) -> None:
    """Remove a deleted conversation's rows that no other conversation inherits."""
    if not s.execute(select(C.deleted).where(C.id == cid)).scalar_one():
        return
    needed = s.execute(select(func.max(S.hi)).where(S.source_id == cid)).scalar_one()
    if needed is None:
        s.execute(delete(MESSAGES).where(M.conversation_id == cid))
        s.execute(delete(CONVERSATIONS).where(C.id == cid))
    else:
        s.execute(delete(MESSAGES).where(M.conversation_id == cid, M.seq >= needed))


# -- export and import -------------------------------------------------------------
