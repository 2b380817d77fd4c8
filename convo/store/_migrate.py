"""Bring a database's schema to the newest revision, safely when many processes start at once.

The check for "already current" costs one query, made without alembic (importing it
takes longer than everything else ``convo ls`` does): the database's row in the version
table against the newest file in ``migrations/versions``, whose names start with their
revision. Only when they differ is alembic loaded. When work is needed, one migrator at a
time holds a lock: PostgreSQL an advisory lock for the transaction, MariaDB a named lock
(``GET_LOCK``), SQLite the write lock (``BEGIN IMMEDIATE``). The others wait, then find
the schema current and do nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from convo.errors import StoreBusyError
from convo.store._engine import WRITE
from convo.store._peek import VERSION_TABLE, newest_shipped

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["VERSION_TABLE", "current_revision", "head_revision", "newest_shipped", "upgrade"]

_LOCK_NAME = "convo_store_migrate"
_LOCK_KEY = 0x636F6E766F  # "convo", as an advisory lock key
_LOCK_WAIT_SECONDS = 120


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return config


def head_revision() -> str | None:
    """The newest revision the package ships."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, ``None`` for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate to ``revision`` (the newest by default) unless the database is already there."""
    if revision == "head" and _stored_revision(engine) == newest_shipped():
        return
    from alembic import command

    config = _config()
    with _locked(engine) as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def _stored_revision(engine: Engine) -> str | None:
    # What alembic's MigrationContext reads, read with one plain query.
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
        return str(rows[0]) if len(rows) == 1 else None


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    backend = engine.dialect.name
    if backend == "sqlite":
        with engine.connect() as conn:
            conn = conn.execution_options(**{WRITE: True})
            with conn.begin():
                yield conn
    elif backend == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            yield conn
    else:
        with engine.connect() as conn:
            got = conn.execute(
                text("SELECT GET_LOCK(:name, :wait)"),
                {"name": _LOCK_NAME, "wait": _LOCK_WAIT_SECONDS},
            ).scalar()
            conn.commit()
            if got != 1:
                raise StoreBusyError("another process held the schema migration lock too long")
            try:
                with conn.begin():
                    yield conn
            finally:
                conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": _LOCK_NAME})
                conn.commit()
