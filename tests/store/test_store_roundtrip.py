"""Save, load, continue: every message field and every character comes back exactly."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from convo.errors import (
    ConversationNotFoundError,
    CorruptRowError,
    InputError,
    MessageError,
    VersionConflictError,
)
from convo.messages import ImagePart, ImageURL, Message, Reasoning, TextPart
from convo.store.base import ConversationHeader, TurnMeta
from convo.store.sql import SQLStore
from tests.store.helpers import create, meta, new_id, tool_turn

HOSTILE = ["x'; DROP TABLE convo_messages--", 'a"b', "%", "_", "\\", "Robert'); --", "ü😀"]


def test_save_load_continue(store: SQLStore) -> None:
    cid = new_id()
    header = ConversationHeader(
        id=cid,
        model="gpt-test",
        system="Be brief.",
        template_name="tpl",
        template_hash="h1",
        template_source="You are {{ role }}.",
        variables={"role": "a pirate"},
        params={"temperature": 0.3, "max_tokens": 50},
        title="First",
        metadata={"user": "ann"},
    )
    history: list[Message] = []
    version = 0
    for n in range(3):
        turn = tool_turn(str(n))
        version = store.append_turn(
            cid, version, turn, meta(n + 1), create=header if version == 0 else None
        )
        history += turn
        assert version == n + 1

    stored = store.load(cid)
    assert stored.messages == history
    assert stored.version == 3
    assert not stored.truncated
    got = stored.header
    assert got.model_dump(exclude={"created_at", "updated_at"}) == header.model_dump(
        exclude={"created_at", "updated_at"}
    )
    assert got.created_at is not None
    assert got.updated_at is not None
    assert got.created_at.tzinfo is not None
    assert store.header(cid) == got
    assert stored.messages[1].tool_calls is not None
    assert stored.messages[2].tool_call_id == "call-0"


def test_unusual_text_round_trips_exactly(store: SQLStore) -> None:
    big = ("emoji 😀🧑‍🚀, CJK 漢字かな한글, sep \u2028\u2029, rtl \u202e, tab\t" * 20_000)[
        :1_000_000
    ]
    messages = [
        Message.user(big),
        Message.assistant("x" * 70_000 + "🎉"),
        Message.user(
            [
                TextPart(text="look: 中文"),
                ImagePart(image_url=ImageURL(url="data:image/png;base64,AAAA", detail="low")),
            ]
        ),
        Message(role="assistant", content=None, refusal="I can't ☃"),
        Message.user("", name="ann"),
        Message.developer("dev note"),
        Message.assistant("   leading and trailing spaces   \n\n"),
        Message(
            role="assistant",
            content="After thinking.",
            reasoning_items=(
                Reasoning(id="rs_1", text="Summary ☃", encrypted="gAAA" * 5_000),
                Reasoning(),
            ),
        ),
    ]
    cid = create(store, turn=messages)
    loaded = store.load(cid).messages
    assert loaded == messages
    assert loaded[0].content == big
    assert loaded[4].content == ""


def test_token_counts_come_back_without_recounting(store: SQLStore) -> None:
    user, reply = Message.user("count me"), Message.assistant("ok")
    user._tokens["o200k_base"] = 3
    reply._tokens.update({"o200k_base": 1, "cl100k_base": 2})
    cid = create(store, turn=[user, reply])
    loaded = store.load(cid).messages
    assert loaded[0]._tokens == {"o200k_base": 3}
    assert loaded[1]._tokens == {"o200k_base": 1, "cl100k_base": 2}


def test_tail_loads_only_the_last_messages(store: SQLStore) -> None:
    cid = create(store)
    version = 1
    for n in range(5):
        version = store.append_turn(cid, version, tool_turn(str(n)), meta())
    full = store.load(cid).messages
    assert len(full) == 22
    tail = store.load(cid, tail=4)
    assert tail.truncated
    assert tail.messages == full[-4:]
    assert tail.version == version
    # Tail 6 would start on a tool answer whose call was cut off: it is dropped.
    six = store.load(cid, tail=6).messages
    assert six == full[-5:]
    assert full[-6].role == "tool"
    assert six[0].text == "reply 3"
    everything = store.load(cid, tail=1000)
    assert everything.messages == full
    assert not everything.truncated
    assert store.load(cid, tail=0).messages == []
    with pytest.raises(InputError):
        store.load(cid, tail=-1)


def test_versions_are_checked(store: SQLStore) -> None:
    cid = create(store)
    assert store.append_turn(cid, 1, [Message.user("a")], TurnMeta()) == 2
    with pytest.raises(VersionConflictError) as info:
        store.append_turn(cid, 1, [Message.user("stale")], TurnMeta())
    assert (info.value.expected, info.value.actual) == (1, 2)
    with pytest.raises(VersionConflictError):
        create(store, cid)  # creating an id that exists
    assert [m.text for m in store.load(cid).messages] == ["hi", "hello", "a"]
    with pytest.raises(ConversationNotFoundError):
        store.append_turn(new_id(), 3, [Message.user("x")], TurnMeta())
    with pytest.raises(ConversationNotFoundError):
        store.append_turn(new_id(), 0, [Message.user("x")], TurnMeta())
    with pytest.raises(InputError):
        store.append_turn(cid, 2, [], TurnMeta())


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_ids_are_just_ids(store: SQLStore, hostile: str) -> None:
    keep = create(store)
    with pytest.raises(ConversationNotFoundError) as info:
        store.load(hostile)
    assert info.value.conversation_id == hostile
    for call in (store.header, store.delete, store.totals, store.turns, store.export):
        with pytest.raises(ConversationNotFoundError):
            call(hostile)
    with pytest.raises(ConversationNotFoundError):
        store.fork(hostile, at=0)
    create(store, hostile)
    assert store.load(hostile).header.id == hostile
    assert store.load(keep).messages  # nothing else was touched
    assert {s.id for s in store.list()} == {keep, hostile}


def test_nul_is_refused_on_postgresql_before_writing(store: SQLStore) -> None:
    cid = create(store)
    bad = [Message.user("fine"), Message.assistant("bad\x00text")]
    if store._backend != "postgresql":
        store.append_turn(cid, 1, bad, TurnMeta())  # the others store NUL exactly
        assert store.load(cid).messages[-1].content == "bad\x00text"
        return
    with pytest.raises(MessageError) as info:
        store.append_turn(cid, 1, bad, TurnMeta())
    assert info.value.index == 1
    assert "NUL" in str(info.value)
    assert store.load(cid).version == 1
    with pytest.raises(InputError):
        create(store, turn=[Message.user("a"), Message.assistant("b")], title="t\x00")


def test_a_corrupt_row_is_named(store: SQLStore) -> None:
    cid = create(store)
    with store._engine.begin() as conn:
        row_id = conn.execute(
            text("SELECT id FROM convo_messages WHERE conversation_id = :c AND seq = 1"),
            {"c": cid},
        ).scalar_one()
        conn.execute(text("UPDATE convo_messages SET role = 'robot' WHERE id = :i"), {"i": row_id})
    with pytest.raises(CorruptRowError) as info:
        store.load(cid)
    assert (info.value.table, info.value.row_id) == ("convo_messages", row_id)
    with store._engine.begin() as conn:
        conn.execute(
            text("UPDATE convo_messages SET role = 'assistant', tool_calls = '[{' WHERE id = :i"),
            {"i": row_id},
        )
    with pytest.raises(CorruptRowError, match="tool_calls"):
        store.load(cid)


def test_secrets_in_parameters_are_not_stored(store: SQLStore) -> None:
    cid = new_id()
    header = ConversationHeader(
        id=cid,
        params={
            "temperature": 1,
            "api_key": "sk-secret",
            "extra_headers": {"Authorization": "Bearer sk-secret"},
        },
    )
    store.append_turn(
        cid,
        0,
        [Message.user("hi")],
        TurnMeta(params={"api_key": "sk-secret", "top_p": 1}),
        create=header,
    )
    assert store.header(cid).params == {"temperature": 1}
    assert store.turns(cid)[0].params == {"top_p": 1}
    assert "sk-secret" not in repr(store.export(cid))
