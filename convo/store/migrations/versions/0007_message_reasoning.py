"""Add ``convo_messages.reasoning``: the reasoning items an assistant message came with.

A JSON list of :class:`~convo.messages.Reasoning` fields, NULL for a message without
any (every message before this revision).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from convo.store._types import LONG_TEXT

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("convo_messages", sa.Column("reasoning", LONG_TEXT))


def downgrade() -> None:
    op.drop_column("convo_messages", "reasoning")
