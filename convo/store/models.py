"""The tables, as SQLAlchemy 2.0 typed ORM rows. Private to the store package.

Four tables (see docs/store.md for the whole design):

* ``convo_conversations``: one row per conversation, with its ``version`` (the
  optimistic-concurrency counter) and ``message_count``.
* ``convo_messages``: one row per message, ordered by ``seq`` within the conversation that
  wrote it. A message is identified by (conversation_id, seq); the tree that forks make is
  in the segments (see convo/store/_tree.py), not in per-row parent links. Its
  ``message_key`` is the id a client may keep: (conversation_id, seq) changes when earlier
  messages are deleted, the key goes wherever the row's content goes.
* ``convo_segments``: which rows make up a conversation: ``seq`` in ``[lo, hi)`` of
  ``source_id``'s rows (``hi`` NULL: no end). A fork lists its ancestors' segments.
* ``convo_turns``: one row per committed turn, with usage and how it was made.
* ``convo_metadata``: the header's metadata, one row per key, so it can be filtered on.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from convo.store._types import ID_LENGTH, KEY_LENGTH, LONG_TEXT, ROW_ID, TABLE_OPTIONS, TIMESTAMP

__all__ = ["Base", "ConversationRow", "MessageRow", "MetadataRow", "SegmentRow", "TurnRow"]


class Base(DeclarativeBase):
    pass


class ConversationRow(Base):
    __tablename__ = "convo_conversations"
    __table_args__ = (
        Index("ix_convo_conversations_updated", "updated_at", "id"),
        # branches() follows forked_from links in both directions.
        Index("ix_convo_conversations_forked_from", "forked_from"),
        TABLE_OPTIONS,
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    model: Mapped[str | None] = mapped_column(String(255))
    system: Mapped[str | None] = mapped_column(LONG_TEXT)
    template_name: Mapped[str | None] = mapped_column(String(255))
    template_hash: Mapped[str | None] = mapped_column(String(255))
    template_source: Mapped[str | None] = mapped_column(LONG_TEXT)
    variables: Mapped[str] = mapped_column(LONG_TEXT)
    params: Mapped[str] = mapped_column(LONG_TEXT)
    title: Mapped[str | None] = mapped_column(LONG_TEXT)
    metadata_json: Mapped[str] = mapped_column(LONG_TEXT)
    forked_from: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    version: Mapped[int] = mapped_column(Integer)
    message_count: Mapped[int] = mapped_column(Integer)
    preview: Mapped[str | None] = mapped_column(String(200))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(TIMESTAMP)
    updated_at: Mapped[datetime] = mapped_column(TIMESTAMP)


class MessageRow(Base):
    __tablename__ = "convo_messages"
    __table_args__ = (
        # Serves ordering, uniqueness and tail loading: seq ranges of one conversation.
        UniqueConstraint("conversation_id", "seq", name="uq_convo_messages_seq"),
        TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("convo_conversations.id")
    )
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(LONG_TEXT)
    parts: Mapped[str | None] = mapped_column(LONG_TEXT)
    name: Mapped[str | None] = mapped_column(LONG_TEXT)
    tool_calls: Mapped[str | None] = mapped_column(LONG_TEXT)
    tool_call_id: Mapped[str | None] = mapped_column(LONG_TEXT)
    refusal: Mapped[str | None] = mapped_column(LONG_TEXT)
    reasoning: Mapped[str | None] = mapped_column(LONG_TEXT)  # JSON: Reasoning fields
    tokens: Mapped[str | None] = mapped_column(LONG_TEXT)
    created_at: Mapped[datetime] = mapped_column(TIMESTAMP)
    # NULL never after revision 0006 (which backfilled it); nullable so that revision
    # could add it without rebuilding the table on SQLite.
    message_key: Mapped[str | None] = mapped_column(String(KEY_LENGTH))


class SegmentRow(Base):
    __tablename__ = "convo_segments"
    __table_args__ = (Index("ix_convo_segments_source", "source_id"), TABLE_OPTIONS)

    conversation_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("convo_conversations.id"), primary_key=True
    )
    source_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("convo_conversations.id"), primary_key=True
    )
    lo: Mapped[int] = mapped_column(Integer)
    hi: Mapped[int | None] = mapped_column(Integer)


class TurnRow(Base):
    __tablename__ = "convo_turns"
    __table_args__ = (
        UniqueConstraint("conversation_id", "version", name="uq_convo_turns_version"),
        TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("convo_conversations.id")
    )
    version: Mapped[int] = mapped_column(Integer)
    first_seq: Mapped[int] = mapped_column(Integer)
    n_messages: Mapped[int] = mapped_column(Integer)
    usage: Mapped[str | None] = mapped_column(LONG_TEXT)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    total_tokens: Mapped[int] = mapped_column(Integer, default=0)
    model: Mapped[str | None] = mapped_column(String(255))
    params: Mapped[str] = mapped_column(LONG_TEXT)
    finish_reason: Mapped[str | None] = mapped_column(String(64))
    latency_ms: Mapped[float | None] = mapped_column(Float)
    template_name: Mapped[str | None] = mapped_column(String(255))
    template_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(TIMESTAMP)
    cost: Mapped[float | None] = mapped_column(Float)  # USD; NULL: the price is unknown


class MetadataRow(Base):
    __tablename__ = "convo_metadata"
    __table_args__ = (TABLE_OPTIONS,)

    conversation_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("convo_conversations.id"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # Canonical JSON (sorted keys) so equality in SQL is equality of values.
    value: Mapped[str] = mapped_column(LONG_TEXT)
