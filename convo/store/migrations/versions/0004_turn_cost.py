"""Each turn's cost in USD (NULL when the model's price is unknown).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("convo_turns", sa.Column("cost", sa.Float()))


def downgrade() -> None:
    op.drop_column("convo_turns", "cost")
