"""MariaDB/MySQL: compare strings byte for byte (a NO PAD binary collation).

Revision 0001 created the tables with ``utf8mb4_bin``, a PAD SPACE collation under which
``'abc' = 'abc '``: an id or a metadata key with trailing spaces reached another's rows.
This converts every table to ``utf8mb4_nopad_bin`` (MariaDB) or ``utf8mb4_0900_bin``
(MySQL 8). SQLite and PostgreSQL already compare bytes; nothing changes there.

Rows whose keys differed only by trailing spaces could not exist under the old collation
(the primary keys refused them), so the conversion cannot meet duplicates.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from convo.store._types import NOPAD_COLLATIONS

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TABLES = (
    "convo_conversations",
    "convo_messages",
    "convo_segments",
    "convo_turns",
    "convo_metadata",
)


def _convert(collation: str) -> None:
    # A column a foreign key references cannot change collation while the key exists
    # (MariaDB error 1833, even with foreign_key_checks off): drop the keys, convert,
    # and create them again under their own names.
    inspector = sa.inspect(op.get_bind())
    keys = [
        (table, fk)
        for table in _TABLES
        for fk in inspector.get_foreign_keys(table)
        if fk["name"]  # MariaDB names every key
    ]
    for table, fk in keys:
        op.drop_constraint(str(fk["name"]), table, type_="foreignkey")
    for table in _TABLES:
        op.execute(f"ALTER TABLE {table} CONVERT TO CHARACTER SET utf8mb4 COLLATE {collation}")
    for table, fk in keys:
        op.create_foreign_key(
            fk["name"],
            table,
            fk["referred_table"],
            fk["constrained_columns"],
            fk["referred_columns"],
        )


def upgrade() -> None:
    dialect = op.get_bind().dialect
    if dialect.name not in ("mysql", "mariadb"):
        return
    family = "mariadb" if getattr(dialect, "is_mariadb", False) else "mysql"
    _convert(NOPAD_COLLATIONS[family])


def downgrade() -> None:
    if op.get_bind().dialect.name in ("mysql", "mariadb"):
        _convert("utf8mb4_bin")
