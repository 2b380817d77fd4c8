"""The statements and row-level steps that SQLStore's transactions are made of.

Every function takes the open connection of the caller's transaction; none commits.
Statements are Core statements over the ORM's tables: the ORM unit of work tripled the
cost of a turn.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Table, bindparam, delete, func, insert, select, update

from convo.errors import (
    ConversationNotFoundError,
    CorruptRowError,
    StoreError,
    VersionConflictError,
)
from convo.messages import Message
from convo.store import _codec as codec
from convo.store._raw import Statement
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

# The statements of a turn and of a load, compiled once per dialect and run on the
# driver's cursor (see _raw.py): through Connection.execute each cost ~45 us, more than
# SQLite takes to run it.
_BUMP = (
    update(CONVERSATIONS)
    .where(C.id == bindparam("cid"), C.version == bindparam("expected"), ~C.deleted)
    .values(version=C.version + 1, updated_at=bindparam("now", type_=C.updated_at.type))
)
# Where UPDATE ... RETURNING exists (SQLite, PostgreSQL) the version check also reads the
# tip, saving a statement; MariaDB has no UPDATE ... RETURNING and reads it after.
BUMP_RETURNING = Statement(_BUMP.returning(C.message_count))
BUMP = Statement(_BUMP)
TIP = Statement(select(C.message_count).where(C.id == bindparam("cid")))
ADVANCE = Statement(
    update(CONVERSATIONS)
    .where(C.id == bindparam("cid"))
    .values(
        message_count=bindparam("count"),
        # The first user message of the conversation; kept once set.
        preview=func.coalesce(C.preview, bindparam("preview", type_=C.preview.type)),
    )
)
_MESSAGE_KEYS = (
    "conversation_id",
    "seq",
    "created_at",
    "role",
    "text",
    "parts",
    "name",
    "tool_calls",
    "tool_call_id",
    "refusal",
    "reasoning",
    "tokens",
    "message_key",
)
INSERT_MESSAGE = Statement(insert(MESSAGES), column_keys=_MESSAGE_KEYS)
INSERT_TURN = Statement(
    insert(TURNS),
    column_keys=[c.key for c in TURNS.columns if c.key != "id"],
)


class ConversationTuple(NamedTuple):
    """A conversation row, read on the raw path; attribute access like a Row."""

    id: str
    model: str | None
    system: str | None
    template_name: str | None
    template_hash: str | None
    template_source: str | None
    variables: str
    params: str
    title: str | None
    metadata_json: str
    forked_from: str | None
    version: int
    message_count: int
    preview: str | None
    deleted: bool
    created_at: datetime
    updated_at: datetime


_CONVERSATION = select(*(CONVERSATIONS.c[f] for f in ConversationTuple._fields)).where(
    C.id == bindparam("cid"), ~C.deleted
)
CONVERSATION = Statement(_CONVERSATION)
CONVERSATION_LOCKED = Statement(_CONVERSATION.with_for_update())
SEGMENTS_OF = Statement(
    select(S.source_id, S.lo, S.hi).where(S.conversation_id == bindparam("cid")).order_by(S.lo)
)

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
    M.reasoning,
)
MESSAGE_RANGE = Statement(
    select(*MESSAGE_COLUMNS)
    .where(
        M.conversation_id == bindparam("source"), M.seq >= bindparam("lo"), M.seq < bindparam("hi")
    )
    .order_by(M.seq)
)
KEY_RANGE = Statement(
    select(M.message_key)
    .where(
        M.conversation_id == bindparam("source"), M.seq >= bindparam("lo"), M.seq < bindparam("hi")
    )
    .order_by(M.seq)
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
    now: datetime,
    keys: Sequence[str] | None = None,
) -> None:
    """Insert the messages as ``cid``'s rows from ``seq = first_seq`` on, in one
    ``executemany`` (no row needs another's id: the tree is in the segments), with
    ``keys`` or fresh ones."""
    rows = []
    for offset, message in enumerate(batch):
        columns = codec.message_to_columns(message)
        columns["conversation_id"] = cid
        columns["seq"] = first_seq + offset
        columns["created_at"] = now
        columns["message_key"] = new_key() if keys is None else keys[offset]
        rows.append(columns)
    if rows:
        INSERT_MESSAGE.run_many(s, rows)


def new_key() -> str:
    """A new message's key: 96 random bits, so no two messages ever share one."""
    return secrets.token_hex(12)


def advance(s: Connection, cid: str, expected: int, now: datetime) -> int:
    """The version check of a turn: bump the version if it is ``expected``; returns the
    conversation's message count. Raises the conflict when it is not.
    """
    params = {"cid": cid, "expected": expected, "now": now}
    if s.dialect.update_returning:
        tip = BUMP_RETURNING.run(s, params).fetchone()
    else:
        tip = TIP.run(s, params).fetchone() if BUMP.run(s, params).rowcount == 1 else None
    if tip is None:
        raise conflict(s, cid, expected)
    return int(tip[0])


def row(s: Connection, cid: str, *, lock: bool = False) -> ConversationTuple:
    statement = CONVERSATION_LOCKED if lock else CONVERSATION
    rows = statement.rows(s, {"cid": cid})
    if not rows:
        raise ConversationNotFoundError(cid)
    return ConversationTuple(*rows[0])


def messages(s: Connection, cid: str, start: int, end: int) -> list[Message]:
    """Messages with ``start <= seq < end``, gathered from the conversation's segments."""
    out: list[Message] = []
    for source, lo, hi in SEGMENTS_OF.rows(s, {"cid": cid}):
        lo, hi = max(lo, start), end if hi is None else min(hi, end)
        if lo >= hi:
            continue
        rows = MESSAGE_RANGE.rows(s, {"source": source, "lo": lo, "hi": hi})
        if len(rows) != hi - lo:
            raise CorruptRowError(
                f"expected {hi - lo} messages with seq in [{lo}, {hi}), found {len(rows)}",
                table="convo_messages",
                row_id=source,
            )
        out.extend(codec.messages_from_rows(rows))
    return out


def keys(s: Connection, cid: str, start: int, end: int) -> list[str]:
    """The keys of the messages with ``start <= seq < end``, as :func:`messages` reads them."""
    out: list[str] = []
    for source, lo, hi in SEGMENTS_OF.rows(s, {"cid": cid}):
        lo, hi = max(lo, start), end if hi is None else min(hi, end)
        if lo < hi:
            out.extend(str(r[0]) for r in KEY_RANGE.rows(s, {"source": source, "lo": lo, "hi": hi}))
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
