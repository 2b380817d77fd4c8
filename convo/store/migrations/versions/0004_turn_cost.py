"""Each turn's cost in USD (NULL when the model's price is unknown).

Revision ID: 0004
Revises: 0002 (0003 once the store's revision lands; see the merge notes)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("convo_turns", sa.Column("cost", sa.Float()))


def downgrade() -> None:
    op.drop_column("convo_turns", "cost")
