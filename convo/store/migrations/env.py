"""Alembic environment: runs on the connection that :mod:`convo.store._migrate` passes in.

The caller holds the migration lock and the transaction; this only runs the scripts.
"""

from __future__ import annotations

from alembic import context

from convo.store._migrate import VERSION_TABLE
from convo.store.models import Base


def run() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        # Only our tables: an application may share the database.
        include_name=lambda name, type_, _parent: (
            type_ != "table" or str(name).startswith("convo_")
        ),
    )
    with context.begin_transaction():
        context.run_migrations()


if hasattr(context, "config"):  # run by Alembic; a tool merely importing the file does nothing
    run()
