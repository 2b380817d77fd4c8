"""A turn is atomic: a failure at any write, or a SIGKILL anywhere, leaves whole turns."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from convo.messages import Message
from convo.store.base import ConversationHeader
from convo.store.sql import SQLStore
from tests.store.helpers import meta, new_id, tool_turn

WORKERS = str(Path(__file__).with_name("workers.py"))
TABLES = (
    "convo_conversations",
    "convo_messages",
    "convo_segments",
    "convo_turns",
    "convo_metadata",
)


class InjectedFailure(Exception):
    pass


def _counts(store: SQLStore) -> dict[str, int]:
    with store._engine.connect() as conn:
        return {
            t: int(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()) for t in TABLES
        }


def _fail_at(store: SQLStore, k: int) -> Any:
    """Raise on the k-th write statement (INSERT/UPDATE/DELETE) from now on."""
    seen = 0

    def hook(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        nonlocal seen
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            seen += 1
            if seen == k:
                raise InjectedFailure(f"write {k}: {statement[:40]}")

    event.listen(store._engine, "before_cursor_execute", hook)
    return hook


def _each_write_fails(store: SQLStore, append: Any) -> int:
    """Fail ``append`` at its 1st, 2nd, ... write until it succeeds; the state must not move."""
    k = 1
    while True:
        before, rows = (store.export(c) for c in store_ids(store)), _counts(store)
        snapshot = list(before)
        hook = _fail_at(store, k)
        try:
            append()
        except InjectedFailure:
            assert [store.export(c) for c in store_ids(store)] == snapshot, f"write {k}"
            assert _counts(store) == rows, f"write {k}"
            k += 1
            continue
        finally:
            event.remove(store._engine, "before_cursor_execute", hook)
        return k - 1


def store_ids(store: SQLStore) -> list[str]:
    return sorted(s.id for s in store.list(limit=1000))


def test_a_failure_at_each_write_rolls_the_turn_back(store: SQLStore) -> None:
    cid = new_id()
    header = ConversationHeader(id=cid, title="t", metadata={"a": 1, "b": 2})
    failures = _each_write_fails(
        store, lambda: store.append_turn(cid, 0, tool_turn("0"), meta(), create=header)
    )
    # the conversation, its segment, its metadata, the 4 messages (one executemany), the
    # turn, the count
    assert failures == 6
    assert store.load(cid).version == 1
    failures = _each_write_fails(store, lambda: store.append_turn(cid, 1, tool_turn("1"), meta()))
    assert failures == 4  # the version check, the messages, the turn, the count
    loaded = store.load(cid)
    assert loaded.messages == tool_turn("0") + tool_turn("1")
    assert loaded.version == 2
    fork = store.fork(cid, at=4)
    _each_write_fails(store, lambda: store.append_turn(fork, 1, [Message.user("f")], meta()))
    _each_write_fails(store, lambda: store.delete(cid))
    assert store.load(fork).messages[-1].text == "f"


@pytest.mark.parametrize("point", ["before-messages", "before-turn", "before-commit"])
def test_sigkill_mid_turn_leaves_whole_turns(db_url: str, point: str) -> None:
    cid = new_id()
    with SQLStore(db_url) as first:  # migrate now, so the child pauses in a turn, not there
        first.latest()
    command = [sys.executable, WORKERS, "crash", db_url, cid, point]
    committed = 0
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        try:
            for line in child.stdout:
                if line.strip() == "committed":
                    committed += 1
                elif line.strip() == "paused" and committed >= 3:
                    os.kill(child.pid, signal.SIGKILL)
                    break
        finally:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    with SQLStore(db_url) as store:
        loaded = store.load(cid)
        assert loaded.version == committed
        assert loaded.messages == [m for n in range(committed) for m in tool_turn(str(n))]
        # The next writer continues cleanly: no lock, no half turn is left behind.
        store.append_turn(cid, committed, [Message.user("after")], meta())
        assert len(store.load(cid).messages) == 4 * committed + 1
