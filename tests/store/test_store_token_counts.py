"""Cached token counts read back are validated, carry the version of the counting rules,
and an import recounts unless told to keep them.
"""

from __future__ import annotations

import pytest
from sqlalchemy import update

from convo.errors import CorruptRowError, InputError
from convo.messages import Message
from convo.store._rows import MESSAGES
from convo.store.base import ConversationHeader, TurnMeta
from convo.store.sql import SQLStore
from convo.tokens import counting
from convo.tokens.counting import RULES_VERSION, counter_for


def test_the_cache_key_carries_the_rules_version() -> None:
    counter = counter_for("gpt-4o")
    assert counter.key.startswith(f"{RULES_VERSION}:")
    m = Message.user("hello there")
    n = counter.message(m)
    # A count written by other rules (an older release's key) is not reused.
    stale = Message.user("hello there")
    stale._tokens["o200k_base:3:1"] = 999
    assert counter.message(stale) == n
    assert counting.RULES_VERSION == RULES_VERSION


@pytest.mark.parametrize("bad", ['{"k": -1}', '{"k": "3"}', '{"k": true}', '{"k": 1.5}'])
def test_counts_read_back_must_be_non_negative_integers(store: SQLStore, bad: str) -> None:
    store.append_turn("c", 0, [Message.user("hi")], TurnMeta(), create=ConversationHeader(id="c"))
    with store._engine.begin() as conn:
        conn.execute(update(MESSAGES).values(tokens=bad))
    with pytest.raises(CorruptRowError, match="tokens"):
        store.load("c")


def test_an_import_recounts_unless_asked_to_keep_counts(store: SQLStore) -> None:
    m = Message.user("hi")
    m._tokens["k"] = 5
    store.append_turn("c", 0, [m], TurnMeta(), create=ConversationHeader(id="c"))
    data = store.export("c")
    assert data["token_counts"] == [{"k": 5}]
    fresh = store.import_(data, new_id=True)
    assert store.load(fresh).messages[0]._tokens == {}
    kept = store.import_(data, new_id=True, keep_token_counts=True)
    assert store.load(kept).messages[0]._tokens == {"k": 5}
    for bad in (-1, True, "5"):
        with pytest.raises(InputError, match="token_counts"):
            store.import_({**data, "token_counts": [{"k": bad}]}, new_id=True)
