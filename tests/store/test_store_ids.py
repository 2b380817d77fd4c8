"""Ids and short strings: refused before anything is written, the same on every backend;
on MariaDB, strings that differ only by trailing spaces are different keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from convo.errors import InputError, StoreError, VersionConflictError
from convo.messages import Message
from convo.store import _migrate
from convo.store._engine import make_engine
from convo.store.base import ConversationHeader, TurnMeta
from convo.store.sql import SQLStore

TURN = [Message.user("hi"), Message.assistant("hello")]
BAD_IDS = ["abc ", " abc", "a\tb", "a\nb", "a\x00b", "a\x7fb", "a\u0085b", "\u3000abc", ""]


def _create(store: SQLStore, cid: str, metadata: dict[str, Any] | None = None) -> int:
    header = ConversationHeader(id=cid, metadata=metadata or {})
    return store.append_turn(cid, 0, TURN, TurnMeta(), create=header)


def _calls(cid: str) -> list[Callable[[SQLStore], object]]:
    return [
        lambda s: s.load(cid),
        lambda s: s.load(cid, tail=1),
        lambda s: s.header(cid),
        lambda s: s.turns(cid),
        lambda s: s.totals(cid),
        lambda s: s.export(cid),
        lambda s: s.delete(cid),
        lambda s: s.set_title(cid, "t"),
        lambda s: s.update_header(cid, title="t"),
        lambda s: s.fork(cid, at=1),
        lambda s: s.fork("abc", at=1, new_id=cid),
        lambda s: s.append_turn(cid, 1, TURN, TurnMeta()),
        lambda s: _create(s, cid),
    ]


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
def test_an_id_with_edge_whitespace_or_control_characters_is_refused_everywhere(
    store: SQLStore, bad: str
) -> None:
    _create(store, "abc")
    for call in _calls(bad):
        with pytest.raises(InputError, match="conversation id"):
            call(store)
    # Nothing reached "abc" through a look-alike id.
    loaded = store.load("abc")
    assert loaded.version == 1 and len(loaded.messages) == 2
    assert store.header("abc").title is None
    assert [c.id for c in store.list()] == ["abc"]


def test_metadata_keys_differing_by_trailing_spaces_are_distinct(store: SQLStore) -> None:
    _create(store, "m", {"tag": 1, "tag ": 2})
    assert store.header("m").metadata == {"tag": 1, "tag ": 2}
    assert [c.id for c in store.list(metadata={"tag": 1})] == ["m"]
    assert store.list(metadata={"tag ": 1}) == []
    assert [c.id for c in store.list(metadata={"tag ": 2})] == ["m"]


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"metadata": {"a\x00": 1}}, "metadata key"),
        ({"metadata": {"k" * 256: 1}}, "metadata key"),
        ({"metadata": {"": 1}}, "metadata key"),
        ({"model": "m" * 256}, "model"),
        ({"template_name": "n\x00"}, "template_name"),
        ({"template_hash": "h" * 256}, "template_hash"),
    ],
)
def test_short_strings_are_checked_before_writing_on_every_backend(
    store: SQLStore, fields: dict[str, Any], match: str
) -> None:
    with pytest.raises(InputError, match=match):
        store.append_turn("s", 0, TURN, TurnMeta(), create=ConversationHeader(id="s", **fields))
    assert store.latest() is None
    _create(store, "s")
    with pytest.raises(InputError, match=match):
        store.update_header("s", **fields)
    if "metadata" in fields:
        with pytest.raises(InputError, match=match):
            store.append_turn("s", 1, TURN, TurnMeta(), metadata=fields["metadata"])
        with pytest.raises(InputError, match=match):
            store.list(metadata=fields["metadata"])
    assert store.load("s").version == 1
    assert store.header("s").metadata == {}


@pytest.mark.parametrize(
    "meta",
    [TurnMeta(model="m" * 256), TurnMeta(finish_reason="f" * 65), TurnMeta(template_name="\x00")],
)
def test_a_turns_short_strings_are_checked_before_writing(store: SQLStore, meta: TurnMeta) -> None:
    with pytest.raises(InputError, match="at most"):
        store.append_turn("t", 0, TURN, meta, create=ConversationHeader(id="t"))
    assert store.latest() is None


def test_only_a_primary_key_collision_is_a_creation_conflict(store: SQLStore) -> None:
    _create(store, "first")
    with pytest.raises(VersionConflictError, match=r"version 1|another writer"):
        _create(store, "first")
    # Any other constraint that fails is a store error naming it.
    with store._engine.begin() as conn:
        conn.execute(text("CREATE UNIQUE INDEX uq_test_role ON convo_messages (role)"))
    with pytest.raises(StoreError) as caught:
        _create(store, "second")
    assert not isinstance(caught.value, VersionConflictError)
    assert "uq_test_role" in str(caught.value) or "role" in str(caught.value)
    assert [c.id for c in store.list()] == ["first"]


def _collations(url: str) -> set[str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT DISTINCT collation_name FROM information_schema.columns"
                " WHERE table_schema = DATABASE() AND table_name LIKE 'convo%'"
                " AND table_name <> 'convo_alembic_version'"
                " AND collation_name IS NOT NULL"
            )
        ).scalars()
        found = set(rows)
    engine.dispose()
    return found


@pytest.mark.parametrize("db_url", ["mariadb"], indirect=True)
def test_mariadb_columns_use_a_no_pad_binary_collation_after_the_upgrade(db_url: str) -> None:
    engine = make_engine(db_url, busy_timeout=5, echo=False)
    _migrate.upgrade(engine, "0002")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO convo_conversations (id, variables, params, metadata_json, version,"
                " message_count, deleted, created_at, updated_at)"
                " VALUES ('old', '{}', '{}', '{}', 1, 0, 0, NOW(), NOW())"
            )
        )
        conn.execute(
            text(
                "INSERT INTO convo_segments (conversation_id, source_id, lo, hi)"
                " VALUES ('old', 'old', 0, NULL)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO convo_metadata (conversation_id, `key`, value)"
                " VALUES ('old', 'tag', '1')"
            )
        )
    engine.dispose()
    assert "utf8mb4_bin" in _collations(db_url)
    with SQLStore(db_url) as store:
        assert store.header("old").metadata == {}  # metadata_json is the header's copy
        assert _collations(db_url) == {"utf8mb4_nopad_bin"}
        _create(store, "new", {"tag": 1, "tag ": 2})
        assert store.header("new").metadata == {"tag": 1, "tag ": 2}
        # A trailing space in a WHERE no longer matches, even with raw SQL.
        with store._engine.connect() as conn:
            n = conn.execute(
                text("SELECT COUNT(*) FROM convo_conversations WHERE id = 'old '")
            ).scalar()
        assert n == 0
