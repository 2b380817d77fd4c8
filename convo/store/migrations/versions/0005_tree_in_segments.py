"""Drop ``convo_messages.parent_id`` and ``convo_conversations.head_id``; index
``convo_conversations.forked_from``.

The message tree is read from the segments (``convo/store/_tree.py``): a message is
(source conversation, seq), and two conversations share a message exactly when their
segments cover that position with the same source. The per-row links were written and
never read, and each one needed the previous row's id, so a turn's messages could not be
inserted in one statement. ``branches()`` follows ``forked_from`` from parent to forks,
hence the index.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from convo.store._types import ROW_ID

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN: SQLite has it since 3.35 for unindexed columns.
    op.drop_column("convo_messages", "parent_id")
    op.drop_column("convo_conversations", "head_id")
    op.create_index(
        "ix_convo_conversations_forked_from", "convo_conversations", ["forked_from"]
    )


def downgrade() -> None:
    op.drop_index("ix_convo_conversations_forked_from", "convo_conversations")
    # The links are not rebuilt: the columns come back empty (nothing read them).
    op.add_column("convo_conversations", sa.Column("head_id", ROW_ID))
    op.add_column("convo_messages", sa.Column("parent_id", ROW_ID))
