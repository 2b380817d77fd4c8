"""Many writers on one conversation, in threads and in processes: nothing lost or interleaved."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text

from convo.errors import StoreBusyError
from convo.messages import Message
from convo.store.base import ConversationHeader, TurnMeta
from convo.store.sql import SQLStore
from tests.store.helpers import new_id
from tests.store.workers import write

WORKERS = str(Path(__file__).with_name("workers.py"))
N_WRITERS, N_TURNS = 4, 8


def _check_nothing_lost(store: SQLStore, cid: str) -> None:
    loaded = store.load(cid)
    texts = [m.text for m in loaded.messages]
    assert len(texts) == 2 * N_WRITERS * N_TURNS
    assert loaded.version == N_WRITERS * N_TURNS
    expected = {f"w{w}-t{t}" for w in range(N_WRITERS) for t in range(N_TURNS)}
    assert set(texts[::2]) == expected  # every question once...
    assert texts[1::2] == [f"{q}-reply" for q in texts[::2]]  # ...each turn contiguous
    for w in range(N_WRITERS):  # each writer's turns in its own order
        mine = [q for q in texts[::2] if q.startswith(f"w{w}-")]
        assert mine == [f"w{w}-t{t}" for t in range(N_TURNS)]
    with store._engine.connect() as conn:
        seqs = conn.execute(
            text("SELECT seq FROM convo_messages WHERE conversation_id = :c ORDER BY seq"),
            {"c": cid},
        ).scalars()
        assert list(seqs) == list(range(len(texts)))


def test_writer_threads(store: SQLStore) -> None:
    cid = new_id()
    with ThreadPoolExecutor(N_WRITERS) as pool:
        futures = [pool.submit(write, store, cid, w, N_TURNS) for w in range(N_WRITERS)]
        for future in futures:
            future.result()
    _check_nothing_lost(store, cid)


def test_writer_processes(store: SQLStore, db_url: str) -> None:
    cid = new_id()
    store.latest()  # the schema exists before the race on the conversation starts
    procs = [
        subprocess.Popen(
            [sys.executable, WORKERS, "write", db_url, cid, str(w), str(N_TURNS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(N_WRITERS)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    _check_nothing_lost(store, cid)


def test_concurrent_first_use_creates_the_schema_once(db_url: str) -> None:
    start = time.time() + 1.5  # every child is up and waiting by then
    procs = [
        subprocess.Popen(
            [sys.executable, WORKERS, "migrate", db_url, str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    # Every child is waited for before anything is asserted: a failed one must not
    # leave the others' pipes open for a later test to trip over.
    results = [(proc.communicate(timeout=120), proc.returncode) for proc in procs]
    for (out, err), code in results:
        assert code == 0, err
        assert out.strip() == "None"
    with SQLStore(db_url) as store:
        cid = new_id()
        store.append_turn(
            cid, 0, [Message.user("hi")], TurnMeta(), create=ConversationHeader(id=cid)
        )
        assert store.latest() == cid


def test_a_new_database_opens_while_another_connection_writes_to_it(tmp_path: Path) -> None:
    # Switching a new file to WAL needs an exclusive lock, which SQLite refuses at once
    # (no busy wait) while another connection writes: the first use of a new database
    # by several processes failed with "database is locked" instead of waiting.
    import contextlib
    import sqlite3
    import threading

    path = tmp_path / "new.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("CREATE TABLE other_tool (x)")  # a writer still in its transaction
    release = threading.Timer(0.5, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        with SQLStore(f"sqlite:///{path}", busy_timeout=10) as store:
            assert store.latest() is None  # waited for the writer, then made the schema
    finally:
        release.join()
        holder.close()
    with contextlib.closing(sqlite3.connect(path)) as check:
        assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_sqlite_lock_held_too_long_is_reported(tmp_path: Path) -> None:
    import sqlite3

    url = f"sqlite:///{tmp_path / 'busy.db'}"
    with SQLStore(url, busy_timeout=0.05) as store:
        store.latest()
        holder = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        cid = new_id()
        try:
            with pytest.raises(StoreBusyError, match="locked"):
                store.append_turn(
                    cid, 0, [Message.user("hi")], TurnMeta(), create=ConversationHeader(id=cid)
                )
            assert store.latest() is None  # WAL: readers are not blocked
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        store.append_turn(
            cid, 0, [Message.user("hi")], TurnMeta(), create=ConversationHeader(id=cid)
        )
        assert store.latest() == cid
