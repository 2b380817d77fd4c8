"""Each turn's cost, stored with it; totals per conversation and overall (every backend)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from convo import Conversation, Reply, ScriptedTransport, Usage
from convo.cost import cost_of
from convo.messages import Message
from convo.reply import Choice
from convo.store import _migrate
from convo.store._engine import make_engine
from convo.store.sql import SQLStore
from convo.transports.testing import tool_calls


def _reply(text: str, prompt: int, completion: int) -> Reply:
    usage = Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )
    message = Message.assistant(text)
    return Reply(choices=(Choice(message=message, finish_reason="stop"),), usage=usage)


def test_cost_is_stored_with_each_turn_and_summed(store: SQLStore) -> None:
    # gpt-4o-mini: $0.15 / M input tokens, $0.60 / M output tokens.
    fake = ScriptedTransport(_reply("a", 1000, 100), _reply("b", 2000, 200))
    conv = Conversation(model="gpt-4o-mini", transport=fake, store=store)
    conv.send("one")
    conv.send("two")
    turns = store.turns(conv.id)
    assert [t.cost for t in turns] == pytest.approx([0.00021, 0.00042])
    totals = store.totals(conv.id)
    assert totals.cost == pytest.approx(0.00063)
    assert (totals.total_tokens, totals.unpriced) == (3300, 0)


def test_a_tool_round_costs_both_calls(store: SQLStore) -> None:
    from convo import tool

    @tool
    def ping() -> str:
        """Ping."""
        return "pong"

    first = tool_calls(("ping", {})).model_copy(
        update={"usage": Usage(prompt_tokens=1000, completion_tokens=0, total_tokens=1000)}
    )
    fake = ScriptedTransport(first, _reply("done", 1000, 100))
    conv = Conversation(model="gpt-4o-mini", transport=fake, store=store, tools=[ping])
    conv.send("ping")
    expected = cost_of("gpt-4o-mini", Usage(prompt_tokens=2000, completion_tokens=100))
    assert store.totals(conv.id).cost == pytest.approx(expected)


def test_unknown_prices_are_unknown_and_overall_totals(store: SQLStore) -> None:
    local = Conversation(model="my-local-model", transport=ScriptedTransport("x"), store=store)
    local.send("hi")
    assert store.turns(local.id)[0].cost is None
    totals = store.totals(local.id)
    assert (totals.cost, totals.unpriced) == (None, 1)
    priced = Conversation(
        model="gpt-4o-mini", transport=ScriptedTransport(_reply("y", 1000, 100)), store=store
    )
    priced.send("hi")
    overall = store.totals()
    assert overall.cost == pytest.approx(0.00021)
    assert overall.unpriced == 1
    assert overall.total_tokens == totals.total_tokens + 1100


def test_limits_count_the_stored_cost_after_a_reload(store: SQLStore) -> None:
    from convo import UsageLimitExceeded, UsageLimits

    fake = ScriptedTransport(_reply("a", 1000, 100))
    conv = Conversation(model="gpt-4o-mini", transport=fake, store=store)
    conv.send("one")
    again = Conversation.load(
        conv.id,
        store=store,
        transport=ScriptedTransport("never sent"),
        limits=UsageLimits(max_total_tokens=1105),
    )
    with pytest.raises(UsageLimitExceeded, match="max_total_tokens"):
        again.send("a prompt that does not fit what is left")


def test_upgrade_to_the_cost_column_keeps_old_turns_unpriced(db_url: str) -> None:
    engine = make_engine(db_url, busy_timeout=5, echo=False)
    _migrate.upgrade(engine, "0002")
    now = "2024-01-02 03:04:05"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO convo_conversations (id, variables, params, metadata_json, version,"
                " message_count, deleted, created_at, updated_at)"
                " VALUES ('old', '{}', '{}', '{}', 1, 0, :f, :now, :now)"
            ),
            {"now": now, "f": False},
        )
        conn.execute(
            text(
                "INSERT INTO convo_turns (conversation_id, version, first_seq, n_messages,"
                " prompt_tokens, completion_tokens, total_tokens, model, params, created_at)"
                " VALUES ('old', 1, 0, 0, 10, 2, 12, 'gpt-4o-mini', '{}', :now)"
            ),
            {"now": now},
        )
    engine.dispose()
    with SQLStore(db_url) as store:
        totals = store.totals("old")  # the first use migrates
        assert _migrate.current_revision(store._engine) == _migrate.head_revision()
        assert (totals.total_tokens, totals.cost, totals.unpriced) == (12, None, 1)
        assert store.turns("old")[0].cost is None


async def test_async_load_counts_the_stored_tokens_too(store: SQLStore) -> None:
    from convo import AsyncConversation, UsageLimitExceeded, UsageLimits

    conv = AsyncConversation(
        model="gpt-4o-mini", transport=ScriptedTransport(_reply("a", 1000, 100)), store=store
    )
    await conv.send("one")
    again = await AsyncConversation.load(
        conv.id,
        store=store,
        transport=ScriptedTransport("never sent"),
        limits=UsageLimits(max_total_tokens=1105),
    )
    with pytest.raises(UsageLimitExceeded, match="max_total_tokens"):
        await again.send("a prompt that does not fit what is left")
