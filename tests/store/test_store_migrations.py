"""The schema: created from an empty database, upgraded from the previous revision."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from convo.messages import Message
from convo.store import _migrate
from convo.store._engine import make_engine
from convo.store.base import Branch, TurnMeta
from convo.store.models import Base
from convo.store.sql import SQLStore


def test_from_empty_the_schema_matches_the_models(db_url: str) -> None:
    with SQLStore(db_url) as store:
        assert store.latest() is None
        engine = store._engine
        assert _migrate.current_revision(engine) == _migrate.head_revision() == "0007"
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"version_table": "convo_alembic_version"}
            )
            diff = compare_metadata(context, Base.metadata)
        assert diff == []


def test_upgrade_from_the_previous_schema_keeps_the_data(db_url: str) -> None:
    engine = make_engine(db_url, busy_timeout=5, echo=False)
    _migrate.upgrade(engine, "0001")
    assert _migrate.current_revision(engine) == "0001"
    now = "2024-01-02 03:04:05"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO convo_conversations (id, variables, params, metadata_json, version,"
                " message_count, deleted, created_at, updated_at, title)"
                " VALUES ('old', '{}', '{}', '{}', 1, 2, :f, :now, :now, 'from 0001')"
            ),
            {"now": now, "f": False},
        )
        conn.execute(
            text(
                "INSERT INTO convo_segments (conversation_id, source_id, lo, hi)"
                " VALUES ('old', 'old', 0, NULL)"
            )
        )
        for seq, role, body in [(0, "user", "old question ✓"), (1, "assistant", "old answer")]:
            conn.execute(
                text(
                    "INSERT INTO convo_messages (conversation_id, seq, role, text, created_at)"
                    " VALUES ('old', :s, :r, :t, :now)"
                ),
                {"s": seq, "r": role, "t": body, "now": now},
            )
    engine.dispose()

    with SQLStore(db_url) as store:
        assert [m.text for m in store.load("old").messages] == ["old question ✓", "old answer"]
        assert _migrate.current_revision(store._engine) == _migrate.head_revision()
        [summary] = store.list()
        assert summary.preview == "old question ✓"  # backfilled by 0002
        assert store.append_turn("old", 1, [Message.user("new")], TurnMeta()) == 2
        assert store.load("old", tail=1).messages[0].text == "new"


def test_upgrade_from_0004_drops_the_parent_links_and_keeps_forks(db_url: str) -> None:
    engine = make_engine(db_url, busy_timeout=5, echo=False)
    _migrate.upgrade(engine, "0004")
    now = "2024-01-02 03:04:05"
    with engine.begin() as conn:
        for cid, count, head in [("a", 3, 3), ("b", 3, 4)]:
            conn.execute(
                text(
                    "INSERT INTO convo_conversations (id, variables, params, metadata_json,"
                    " version, message_count, head_id, deleted, created_at, updated_at)"
                    " VALUES (:c, '{}', '{}', '{}', 1, :n, :h, :f, :now, :now)"
                ),
                {"c": cid, "n": count, "h": head, "f": False, "now": now},
            )
        for cid, source, lo, hi in [("a", "a", 0, None), ("b", "a", 0, 2), ("b", "b", 2, None)]:
            conn.execute(
                text(
                    "INSERT INTO convo_segments (conversation_id, source_id, lo, hi)"
                    " VALUES (:c, :s, :lo, :hi)"
                ),
                {"c": cid, "s": source, "lo": lo, "hi": hi},
            )
        rows = [(1, "a", 0, None, "u0"), (2, "a", 1, 1, "a0"), (3, "a", 2, 2, "u1")]
        rows.append((4, "b", 2, 2, "u1 edited"))
        for _, cid, seq, parent, body in rows:  # ids 1, 2, ... in a new database
            conn.execute(
                text(
                    "INSERT INTO convo_messages (conversation_id, seq, parent_id, role, text,"
                    " created_at) VALUES (:c, :s, :p, :r, :t, :now)"
                ),
                {
                    "c": cid,
                    "s": seq,
                    "p": parent,
                    "t": body,
                    "now": now,
                    "r": "assistant" if body == "a0" else "user",
                },
            )
    engine.dispose()

    with SQLStore(db_url) as store:
        assert store.latest() == "b"  # first use: migrates
        assert _migrate.current_revision(store._engine) == "0007"
        with store._engine.connect() as conn:
            messages = {c["name"] for c in inspect(conn).get_columns("convo_messages")}
            conversations = {c["name"] for c in inspect(conn).get_columns("convo_conversations")}
            indexes = {i["name"] for i in inspect(conn).get_indexes("convo_conversations")}
        assert "ix_convo_conversations_forked_from" in indexes
        assert "parent_id" not in messages and "head_id" not in conversations
        assert "reasoning" in messages
        assert [m.text for m in store.load("b").messages] == ["u0", "a0", "u1 edited"]
        assert store.branches("a") == [Branch(position=2, conversations=["a", "b"], index=0)]
        assert store.append_turn("b", 1, [Message.assistant("a1")], TurnMeta()) == 2
        assert store.delete_messages("a", 1, 2, 3) == 2
        assert [m.text for m in store.load("b").messages] == ["u0", "a0", "u1 edited", "a1"]


def test_a_current_schema_is_recognised_without_loading_alembic(db_url: str) -> None:
    # Reading the newest revision from the file names must agree with alembic's scripts.
    assert _migrate.newest_shipped() == _migrate.head_revision()
    with SQLStore(db_url) as store:
        store.list()  # creates the schema
    code = (
        "import sys\n"
        "from convo.store.sql import SQLStore\n"
        f"with SQLStore({db_url!r}) as s:\n"
        "    s.list()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_upgrade_from_0005_gives_every_message_a_key(db_url: str) -> None:
    engine = make_engine(db_url, busy_timeout=5, echo=False)
    _migrate.upgrade(engine, "0005")
    now = "2024-01-02 03:04:05"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO convo_conversations (id, variables, params, metadata_json, version,"
                " message_count, deleted, created_at, updated_at)"
                " VALUES ('a', '{}', '{}', '{}', 1, 3, :f, :now, :now)"
            ),
            {"now": now, "f": False},
        )
        conn.execute(
            text(
                "INSERT INTO convo_segments (conversation_id, source_id, lo, hi)"
                " VALUES ('a', 'a', 0, NULL)"
            )
        )
        for seq, role in enumerate(["user", "assistant", "user"]):
            conn.execute(
                text(
                    "INSERT INTO convo_messages (conversation_id, seq, role, text, created_at)"
                    " VALUES ('a', :s, :r, :t, :now)"
                ),
                {"s": seq, "r": role, "t": f"m{seq}", "now": now},
            )
    engine.dispose()

    with SQLStore(db_url) as store:
        keys = store.load("a", keys=True).keys
        assert keys == ["r1", "r2", "r3"]  # ids 1, 2, 3 in a new database
        assert store.delete_messages("a", 1, 0, 1) == 2
        assert store.load("a", keys=True).keys == ["r2", "r3"]
        store.append_turn("a", 2, [Message.assistant("new")], TurnMeta())
        new = store.load("a", keys=True).keys
        assert new is not None and len(new[-1]) == 24 and new[-1] not in keys
