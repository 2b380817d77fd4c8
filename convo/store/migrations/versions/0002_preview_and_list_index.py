"""A stored preview for listings, and the index that makes listing newest-first fast.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PREVIEW_LENGTH = 200


def upgrade() -> None:
    op.add_column("convo_conversations", sa.Column("preview", sa.String(PREVIEW_LENGTH)))
    op.create_index(
        "ix_convo_conversations_updated", "convo_conversations", ["updated_at", "id"]
    )
    # Backfill: the first user message a conversation wrote itself (forks inherit theirs
    # from the first append after the upgrade, or keep an empty preview).
    op.execute(
        sa.text(
            "UPDATE convo_conversations SET preview = ("
            " SELECT SUBSTR(m.text, 1, :n) FROM convo_messages m"
            " WHERE m.conversation_id = convo_conversations.id AND m.seq = ("
            "  SELECT MIN(m2.seq) FROM convo_messages m2"
            "  WHERE m2.conversation_id = convo_conversations.id AND m2.role = 'user'))"
        ).bindparams(n=PREVIEW_LENGTH)
    )


def downgrade() -> None:
    op.drop_index("ix_convo_conversations_updated", table_name="convo_conversations")
    op.drop_column("convo_conversations", "preview")
