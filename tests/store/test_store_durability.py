"""Durability is a stated choice; a locked database fails after one wait, not four; a new
SQLite file is private to its owner.
"""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest
from sqlalchemy import event, text

from convo.errors import InputError, StoreBusyError
from convo.messages import Message
from convo.store import AsyncSQLStore
from convo.store.base import ConversationHeader, TurnMeta
from convo.store.sql import SQLStore

TURN = [Message.user("hi"), Message.assistant("hello")]


def _pragma(store: SQLStore) -> int:
    with store._engine.connect() as conn:
        return int(conn.execute(text("PRAGMA synchronous")).scalar_one())


def test_sqlite_durability_is_normal_by_default_and_full_on_request(tmp_path: Path) -> None:
    with SQLStore(f"sqlite:///{tmp_path / 'a.db'}") as store:
        assert _pragma(store) == 1  # NORMAL
    with SQLStore(f"sqlite:///{tmp_path / 'b.db'}", durability="full") as store:
        assert _pragma(store) == 2  # FULL
        store.append_turn("c", 0, TURN, TurnMeta(), create=ConversationHeader(id="c"))
        assert store.load("c").version == 1
    async_store = AsyncSQLStore(f"sqlite:///{tmp_path / 'c.db'}", durability="full")
    assert _pragma(async_store.sync) == 2
    async_store.sync.close()


def test_an_unknown_durability_is_refused(db_url: str) -> None:
    with pytest.raises(InputError, match="durability"):
        SQLStore(db_url, durability="fast")  # type: ignore[arg-type]


def test_full_durability_works_on_every_backend(db_url: str) -> None:
    with SQLStore(db_url, durability="full") as store:
        store.append_turn("c", 0, TURN, TurnMeta(), create=ConversationHeader(id="c"))
        assert [m.text for m in store.load("c").messages] == ["hi", "hello"]
        if store._backend == "postgresql":
            with store._engine.connect() as conn:
                assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "on"


def test_a_locked_sqlite_database_waits_busy_timeout_once(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    with SQLStore(f"sqlite:///{path}", busy_timeout=0.2) as store:
        store.latest()  # schema in place
        begins: list[object] = []
        event.listen(store._writer, "begin", begins.append, insert=True)
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreBusyError, match="locked"):
                store.append_turn("c", 0, TURN, TurnMeta(), create=ConversationHeader(id="c"))
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        # One transaction attempted: the wait was busy_timeout, not a multiple of it.
        assert len(begins) == 1
        store.append_turn("c", 0, TURN, TurnMeta(), create=ConversationHeader(id="c"))


def test_a_new_sqlite_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "private.db"
    with SQLStore(f"sqlite:///{path}") as store:
        store.append_turn("c", 0, TURN, TurnMeta(), create=ConversationHeader(id="c"))
        for file in (path, Path(f"{path}-wal")):
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    # An existing file keeps the mode its owner gave it.
    shared = tmp_path / "shared.db"
    shared.touch(mode=0o640)
    shared.chmod(0o640)
    with SQLStore(f"sqlite:///{shared}") as store:
        store.latest()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o640
