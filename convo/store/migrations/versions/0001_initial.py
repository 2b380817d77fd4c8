"""The first schema: conversations, messages, segments, turns, metadata.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from convo.store._types import ID_LENGTH, LONG_TEXT, ROW_ID, TABLE_OPTIONS_0001 as TABLE_OPTIONS, TIMESTAMP

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id() -> sa.Column[str]:
    return sa.Column("id", sa.String(ID_LENGTH), primary_key=True)


def _conversation_fk(
    name: str = "conversation_id", *, primary_key: bool = False,
) -> sa.Column[str]:
    return sa.Column(
        name,
        sa.String(ID_LENGTH),
        sa.ForeignKey("convo_conversations.id"),
        primary_key=primary_key,
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "convo_conversations",
        _id(),
        sa.Column("model", sa.String(255)),
        sa.Column("system", LONG_TEXT),
        sa.Column("template_name", sa.String(255)),
        sa.Column("template_hash", sa.String(255)),
        sa.Column("template_source", LONG_TEXT),
        sa.Column("variables", LONG_TEXT, nullable=False),
        sa.Column("params", LONG_TEXT, nullable=False),
        sa.Column("title", LONG_TEXT),
        sa.Column("metadata_json", LONG_TEXT, nullable=False),
        sa.Column("forked_from", sa.String(ID_LENGTH)),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("message_count", sa.Integer, nullable=False),
        sa.Column("head_id", ROW_ID),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "convo_messages",
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        _conversation_fk(),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("parent_id", ROW_ID),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("text", LONG_TEXT),
        sa.Column("parts", LONG_TEXT),
        sa.Column("name", LONG_TEXT),
        sa.Column("tool_calls", LONG_TEXT),
        sa.Column("tool_call_id", LONG_TEXT),
        sa.Column("refusal", LONG_TEXT),
        sa.Column("tokens", LONG_TEXT),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.UniqueConstraint("conversation_id", "seq", name="uq_convo_messages_seq"),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "convo_segments",
        _conversation_fk(primary_key=True),
        _conversation_fk("source_id", primary_key=True),
        sa.Column("lo", sa.Integer, nullable=False),
        sa.Column("hi", sa.Integer),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_convo_segments_source", "convo_segments", ["source_id"])
    op.create_table(
        "convo_turns",
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        _conversation_fk(),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("first_seq", sa.Integer, nullable=False),
        sa.Column("n_messages", sa.Integer, nullable=False),
        sa.Column("usage", LONG_TEXT),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("total_tokens", sa.Integer, nullable=False),
        sa.Column("model", sa.String(255)),
        sa.Column("params", LONG_TEXT, nullable=False),
        sa.Column("finish_reason", sa.String(64)),
        sa.Column("latency_ms", sa.Float),
        sa.Column("template_name", sa.String(255)),
        sa.Column("template_hash", sa.String(255)),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.UniqueConstraint("conversation_id", "version", name="uq_convo_turns_version"),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "convo_metadata",
        _conversation_fk(primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", LONG_TEXT, nullable=False),
        **TABLE_OPTIONS,
    )


def downgrade() -> None:
    for table in ("convo_metadata", "convo_turns", "convo_segments", "convo_messages"):
        op.drop_table(table)
    op.drop_table("convo_conversations")
