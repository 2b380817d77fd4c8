"""Rows the store wrote are read without re-validation; what a database can corrupt is
still refused, naming the table and row, and the values equal fully validated ones.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, strategies as st
from sqlalchemy import text

from convo.errors import CorruptRowError
from convo.messages import Message
from convo.store import _codec as codec
from convo.store.sql import SQLStore
from tests.store.helpers import create

Row = tuple[Any, ...]


def _row(role: str, content: str | None, **columns: Any) -> Row:
    return (
        7,
        role,
        content,
        columns.get("parts"),
        columns.get("name"),
        columns.get("tool_calls"),
        columns.get("tool_call_id"),
        columns.get("refusal"),
        columns.get("tokens"),
        columns.get("reasoning"),
    )


def _slow(row: Row) -> Message:
    return codec.message_from_row(codec._Row(*row))


plain_rows = st.builds(
    _row,
    st.sampled_from(["system", "developer", "user", "assistant"]),
    st.text(),
    name=st.none() | st.text(min_size=1),
    refusal=st.none() | st.text(),
    tokens=st.none() | st.dictionaries(st.text(), st.integers(0, 10**6)).map(codec.dumps),
)


@given(plain_rows)
def test_fast_values_equal_validated_values(row: Row) -> None:
    (fast,) = codec.messages_from_rows([row])
    slow = _slow(row)
    assert fast == slow
    assert fast.model_fields_set == slow.model_fields_set
    assert fast._tokens == slow._tokens
    assert fast.model_dump() == slow.model_dump()
    assert fast.model_copy(update={"name": "n"}).name == "n"


@pytest.mark.parametrize(
    ("row", "match"),
    [
        (_row("robot", "x"), "unknown role"),
        (_row("user", None), "not a valid message"),
        (_row("tool", "x"), "not a valid message"),
        (_row("tool", "x", tool_call_id=""), "not a valid message"),
        (_row("user", "x", tool_call_id="c1"), "not a valid message"),
        (_row("assistant", None), "not a valid message"),
        (_row("assistant", None, refusal=""), "not a valid message"),
        (_row("user", None, refusal="no"), "not a valid message"),
        (_row("user", "x", tokens='{"a": 1'), "tokens"),
        (_row("user", "x", tokens='{"a": 1} x'), "tokens"),
        (_row("user", "x", tokens="[1]"), "tokens"),
        (_row("user", "x", tokens=""), "tokens"),
        (_row("assistant", "x", reasoning="[{"), "reasoning"),
        (_row("user", "x", reasoning="[]"), "not a valid message"),
    ],
)
def test_a_row_that_breaks_a_rule_is_refused(row: Row, match: str) -> None:
    with pytest.raises(CorruptRowError, match=match) as info:
        codec.messages_from_rows([_row("user", "fine"), row])
    assert (info.value.table, info.value.row_id) == ("convo_messages", 7)


def test_rows_that_need_full_validation_get_it() -> None:
    calls = '[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]'
    parts = '[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"u"}}]'
    rows = [
        _row("assistant", None, tool_calls=calls),
        _row("tool", "42", tool_call_id="c1", name="f"),
        _row("user", "a", parts=parts),
        _row("assistant", "b", reasoning='[{"id":"rs_1","text":"t","encrypted":"e"}]'),
    ]
    got = codec.messages_from_rows(rows)
    assert got == [_slow(r) for r in rows]
    assert got[0].tool_calls is not None and got[0].tool_calls[0].name == "f"
    assert got[2].text == "a"
    assert got[3].reasoning_items is not None and got[3].reasoning_items[0].encrypted == "e"


def test_corrupt_tokens_in_the_database_are_named(store: SQLStore) -> None:
    cid = create(store)
    with store._engine.begin() as conn:
        row_id = conn.execute(
            text("SELECT id FROM convo_messages WHERE conversation_id = :c AND seq = 0"),
            {"c": cid},
        ).scalar_one()
        conn.execute(text("UPDATE convo_messages SET tokens = '{' WHERE id = :i"), {"i": row_id})
    with pytest.raises(CorruptRowError, match="tokens") as info:
        store.load(cid)
    assert (info.value.table, info.value.row_id) == ("convo_messages", row_id)
