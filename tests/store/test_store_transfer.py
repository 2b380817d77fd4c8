"""Export and import: one conversation as JSON, round-tripping exactly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from convo.errors import InputError, MessageError, VersionConflictError
from convo.messages import Message
from convo.store.sql import SQLStore
from tests.store.helpers import create, meta, tool_turn


def _exported(store: SQLStore) -> tuple[str, dict[str, Any]]:
    first = Message.user("héllo 😀\u2028")
    first._tokens["o200k_base"] = 4
    cid = create(
        store, title="T", metadata={"k": [1, {"x": None}]}, turn=[first, Message.assistant("hi")]
    )
    store.append_turn(cid, 1, tool_turn("1"), meta(3))
    return cid, store.export(cid)


def test_round_trip(store: SQLStore, db_url: str) -> None:
    cid, data = _exported(store)
    text = json.dumps(data)  # JSON-able
    assert (data["format"], data["format_version"]) == ("convo.conversation", 1)
    assert data["messages"][0] == {"role": "user", "content": "héllo 😀\u2028"}
    assert data["token_counts"][0] == {"o200k_base": 4}
    store.delete(cid)
    assert store.import_(json.loads(text), keep_token_counts=True) == cid
    assert store.export(cid) == data
    assert store.load(cid).messages[0]._tokens == {"o200k_base": 4}
    turn = store.turns(cid)[1]
    assert turn.created_at is not None  # kept from the export, as every other field
    assert turn.model_copy(update={"created_at": None}) == meta(3)
    with SQLStore(db_url) as again:  # a fresh process's view
        assert again.export(cid) == data


def test_import_as_new_and_conflicts(store: SQLStore) -> None:
    cid, data = _exported(store)
    with pytest.raises(VersionConflictError):
        store.import_(data)
    copy = store.import_(data, new_id=True, keep_token_counts=True)
    assert copy != cid
    again = store.export(copy)
    assert again["header"].pop("id") == copy
    data["header"].pop("id")
    assert again == data
    # An imported conversation continues like any other.
    store.append_turn(copy, data["version"], [Message.user("more")], meta())
    assert store.load(copy).messages[-1].text == "more"


def test_import_validates(store: SQLStore) -> None:
    _, data = _exported(store)

    def broken(**change: Any) -> dict[str, Any]:
        return {**data, **change}

    with pytest.raises(InputError, match="format"):
        store.import_(broken(format="other"))
    with pytest.raises(MessageError) as info:
        store.import_(
            broken(
                messages=[{"role": "user", "content": "a"}, {"role": "bot"}], token_counts=[{}, {}]
            ),
            new_id=True,
        )
    assert info.value.index == 1
    with pytest.raises(InputError, match="token_counts"):
        store.import_(broken(token_counts=[]), new_id=True)
    with pytest.raises(InputError, match="turns"):
        store.import_(broken(turns=[{"version": 1, "first_seq": 5, "n_messages": 9}]), new_id=True)
    with pytest.raises(InputError, match="header"):
        store.import_(broken(header={"title": "no id"}))
    with pytest.raises(InputError, match="version"):
        store.import_(broken(version=0), new_id=True)
    assert len(store.list()) == 1  # nothing half-imported
