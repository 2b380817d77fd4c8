"""``convo ls`` without SQLAlchemy: the listing read from a SQLite store with ``sqlite3``.

Importing SQLAlchemy takes about 0.23 s on this project's 2-core machine, most of what
``convo ls`` spent (0.55-0.65 s in all; the target is 0.3 s). This module reads the
rows that ``SQLStore(url).list(limit=n)`` returns, for the case that is most uses of
the command: a SQLite file that exists and is at the newest schema revision, listed
without a search. Any other case (another database, a search, a file to create, a
schema to migrate, any error) gets ``None``, and the caller opens a ``SQLStore``, which
decides everything else. ``tests/store/test_store_peek.py`` holds the two equal.

>>> peek("postgresql://localhost/convo", limit=5) is None
True
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import platformdirs

__all__ = ["VERSION_TABLE", "Listed", "default_url", "newest_shipped", "peek"]

VERSION_TABLE = "convo_alembic_version"
_VERSIONS = Path(__file__).parent / "migrations" / "versions"
# The same SELECT as convo.store._listing.query with no filter (the test compares them).
_LISTING = (
    "SELECT id, title, model, created_at, updated_at, message_count, preview"
    " FROM convo_conversations WHERE deleted = 0"
    " ORDER BY updated_at DESC, id DESC LIMIT ?"
)


class Listed(NamedTuple):
    """One conversation of the listing: the fields of a ``ConversationSummary``.

    Its own tuple, not the pydantic value, so that reading it needs no pydantic; the
    test builds each from ``ConversationSummary.model_dump()``, so the two cannot drift.
    """

    id: str
    title: str | None
    model: str | None
    created_at: datetime
    updated_at: datetime
    message_count: int
    preview: str


def default_url() -> str:
    """``CONVO_DB`` if set, else a SQLite file in the user's data directory."""
    url = os.environ.get("CONVO_DB")
    if url:
        return url
    directory = Path(platformdirs.user_data_dir("convo"))
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return f"sqlite:///{directory / 'convo.db'}"


def newest_shipped() -> str:
    """The newest schema revision the package ships, read from the migrations' file
    names (``0004_turn_cost.py``), without alembic."""
    return max(p.name.split("_", 1)[0] for p in _VERSIONS.glob("[0-9]*_*.py"))


def peek(url: str | None, *, limit: int) -> list[Listed] | None:
    """The newest ``limit`` conversations of the SQLite store at ``url`` (``None``: the
    default store), or ``None`` when this case is not one to read without a ``SQLStore``.

    Example::

        listed = peek("sqlite:///convo.db", limit=20)
        if listed is None:
            with SQLStore("sqlite:///convo.db") as store:
                listed = store.list(limit=20)
    """
    path = _sqlite_file(default_url() if url is None else url)
    if path is None or limit < 0 or not os.path.isfile(path):
        return None
    try:
        # Read-only: a listing never creates, migrates or changes the file.
        conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        version = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall()
        if version != [(newest_shipped(),)]:
            return None
        rows = conn.execute(_LISTING, (limit,)).fetchall()
        return [
            Listed(cid, title, model, _utc(created), _utc(updated), count, preview or "")
            for cid, title, model, created, updated, count, preview in rows
        ]
    except (sqlite3.Error, ValueError, TypeError):
        return None
    finally:
        conn.close()


def _sqlite_file(url: str) -> str | None:
    # Only the plain form: a driver name, a query or an in-memory database go the long way.
    if not url.startswith("sqlite:///") or "?" in url:
        return None
    path = url.removeprefix("sqlite:///")
    return path if path and path != ":memory:" else None


def _utc(stored: str) -> datetime:
    # SQLAlchemy's SQLite DATETIME: naive UTC as "YYYY-MM-DD HH:MM:SS[.ffffff]".
    return datetime.fromisoformat(stored).replace(tzinfo=UTC)
