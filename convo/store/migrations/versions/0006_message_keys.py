"""Add ``convo_messages.message_key``: a stable id of a message that survives deletions.

A message's place (conversation, seq) changes when messages before it are deleted (its
row is written again, see ``_edit.py``), so it cannot be an id a client keeps. The key is
written with the row and copied wherever the row is copied or moved; a new message gets a
fresh random key (``_rows.new_key``, lowercase hex). Existing rows get ``r<row id>``:
unique, and never a hex string, so no fresh key can equal one.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from convo.store._types import KEY_LENGTH, ROW_ID

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("convo_messages", sa.Column("message_key", sa.String(KEY_LENGTH)))
    messages = sa.table(
        "convo_messages", sa.column("id", ROW_ID), sa.column("message_key", sa.String)
    )
    # String + string compiles to || on SQLite and PostgreSQL, CONCAT() on MariaDB.
    backfill = sa.literal("r", sa.String) + sa.cast(messages.c.id, sa.String(KEY_LENGTH))
    op.execute(messages.update().values(message_key=backfill))


def downgrade() -> None:
    op.drop_column("convo_messages", "message_key")
