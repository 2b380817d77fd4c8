"""Usage limits: each bound hit before a request (convo's own count) and after a reply
(the server's usage); the history and the store stay as before the turn."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import convo
from convo import Reply, ScriptedTransport, Usage, UsageLimitExceeded, UsageLimits
from convo.errors import ParameterError
from convo.messages import Message
from convo.reply import Choice
from convo.store import SQLStore
from convo.transports.testing import tool_calls


def _reply(text: str, prompt: int, completion: int) -> Reply:
    usage = Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )
    return Reply(
        choices=(Choice(message=Message.assistant(text), finish_reason="stop"),), usage=usage
    )


@convo.tool
def ping() -> str:
    """Ping."""
    return "pong"


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _send(conv: Any, text: str) -> Reply:
    if isinstance(conv, convo.AsyncConversation):
        return await conv.send(text)
    return conv.send(text)


async def _stream(conv: Any, text: str) -> list[str]:
    if isinstance(conv, convo.AsyncConversation):
        return [str(d) async for d in conv.stream(text)]
    return [str(d) for d in conv.stream(text)]


def _conv(mode: str, fake: ScriptedTransport, limits: UsageLimits, **kw: Any) -> Any:
    cls = convo.Conversation if mode == "sync" else convo.AsyncConversation
    return cls(model="gpt-4o-mini", transport=fake, limits=limits, **kw)


async def _refused(conv: Any, text: str, limit: str, sent: int, fake: ScriptedTransport) -> None:
    before = list(conv.messages), conv.version
    with pytest.raises(UsageLimitExceeded) as info:
        await _send(conv, text)
    assert info.value.limit == limit
    assert info.value.value > info.value.maximum
    assert (list(conv.messages), conv.version) == before
    assert len(fake.requests) == sent  # how many requests went out


async def test_max_requests_refuses_the_next_call_of_a_tool_round(mode: str) -> None:
    fake = ScriptedTransport(tool_calls(("ping", {})), "done")
    conv = _conv(mode, fake, UsageLimits(max_requests=1), tools=[ping])
    await _refused(conv, "ping it", "max_requests", 1, fake)
    ok = _conv(
        mode,
        ScriptedTransport(tool_calls(("ping", {})), "done"),
        UsageLimits(max_requests=2),
        tools=[ping],
    )
    assert (await _send(ok, "ping it")).text == "done"


async def test_max_turn_tokens_before_the_request(mode: str) -> None:
    fake = ScriptedTransport("never sent")
    conv = _conv(mode, fake, UsageLimits(max_turn_tokens=5))
    await _refused(conv, "a prompt longer than five tokens, surely", "max_turn_tokens", 0, fake)


async def test_max_turn_tokens_after_the_reply(mode: str) -> None:
    fake = ScriptedTransport(_reply("long", 10, 500))
    conv = _conv(mode, fake, UsageLimits(max_turn_tokens=100))
    await _refused(conv, "hi", "max_turn_tokens", 1, fake)


async def test_max_turn_tokens_after_a_streamed_reply(mode: str) -> None:
    fake = ScriptedTransport(_reply("long streamed answer", 10, 500))
    conv = _conv(mode, fake, UsageLimits(max_turn_tokens=100))
    with pytest.raises(UsageLimitExceeded):
        await _stream(conv, "hi")
    assert conv.messages == []


async def test_max_total_tokens_counts_the_committed_turns(mode: str) -> None:
    fake = ScriptedTransport(_reply("one", 10, 30), _reply("two", 50, 30))
    conv = _conv(mode, fake, UsageLimits(max_total_tokens=100))
    await _send(conv, "first")  # 40 tokens committed
    # Before: 40 spent + the local count of the prompt fits; after: 40 + 80 does not.
    await _refused(conv, "second", "max_total_tokens", 2, fake)
    tight = ScriptedTransport(_reply("one", 10, 85), "never sent")
    conv = _conv(mode, tight, UsageLimits(max_total_tokens=100))
    await _send(conv, "first")  # 95 committed
    await _refused(conv, "the second prompt, which does not fit", "max_total_tokens", 1, tight)


async def test_max_cost_before_and_after(mode: str) -> None:
    # gpt-4o-mini: $0.15 per million input tokens, $0.60 per million output tokens.
    fake = ScriptedTransport("never sent")
    conv = _conv(mode, fake, UsageLimits(max_cost=0.000001))
    await _refused(
        conv, "a prompt of some twenty tokens costs more than that, yes", "max_cost", 0, fake
    )
    fake = ScriptedTransport(_reply("cheap", 100, 10), _reply("dear", 100, 1_000_000))
    conv = _conv(mode, fake, UsageLimits(max_cost=0.01))
    await _send(conv, "first")
    await _refused(conv, "second", "max_cost", 2, fake)


async def test_max_cost_needs_a_known_price(mode: str) -> None:
    fake = ScriptedTransport("never sent")
    cls = convo.Conversation if mode == "sync" else convo.AsyncConversation
    conv = cls(model="my-local-model", transport=fake, limits=UsageLimits(max_cost=1.0))
    with pytest.raises(ParameterError, match="price of model 'my-local-model' is unknown"):
        await _send(conv, "hi")
    assert fake.requests == []


def test_a_refused_turn_writes_nothing_to_the_store(tmp_path: Any) -> None:
    store = SQLStore(f"sqlite:///{tmp_path / 'db.sqlite'}")
    fake = ScriptedTransport(_reply("one", 10, 30), _reply("two", 10, 500))
    conv = convo.Conversation(
        model="gpt-4o-mini", transport=fake, store=store, limits=UsageLimits(max_turn_tokens=100)
    )
    conv.send("first")
    with pytest.raises(UsageLimitExceeded):
        conv.send("second")
    assert store.load(conv.id).version == 1
    assert len(store.load(conv.id).messages) == 2


def test_the_summary_call_counts_as_a_request() -> None:
    fake = ScriptedTransport("a summary", "answer")
    history = []
    for i in range(40):  # more than the window holds: the turn summarizes first
        history += [Message.user(f"fact {i}: " + "blah " * 40), Message.assistant("ok " * 20)]
    conv = convo.Conversation(
        "sys",
        model="gpt-4",
        transport=fake,
        context_window=3000,
        max_tokens=200,
        strategy=convo.Summarize(),
        limits=UsageLimits(max_requests=1),
        messages=history,
    )
    with pytest.raises(UsageLimitExceeded, match="max_requests=1"):
        conv.send("next")
    assert len(fake.requests) == 1  # the summary call went out, the turn's did not


def test_limits_are_checked_and_kept_by_forks() -> None:
    with pytest.raises(ParameterError, match="max_requests must be a number"):
        UsageLimits(max_requests=-1)
    with pytest.raises(ParameterError, match="must be an integer"):
        UsageLimits(max_turn_tokens=1.5)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="limits must be"):
        convo.Conversation(model="m", limits={"max_requests": 1})  # type: ignore[arg-type]
    limits = UsageLimits(max_requests=3)
    conv = convo.Conversation(model="m", transport=ScriptedTransport("a"), limits=limits)
    conv.send("hi")
    assert conv.fork().limits is limits


def test_flat_prices_are_remembered_and_match_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    from convo import cost
    from convo.cost import cost_of

    monkeypatch.setattr(cost, "_memo", (None, {}))  # the first call below looks up
    usages = [
        Usage(prompt_tokens=1234, completion_tokens=567),
        Usage.model_validate(
            {
                "prompt_tokens": 2000,
                "completion_tokens": 10,
                "prompt_tokens_details": {"cached_tokens": 1500},
            }
        ),
    ]
    for model in ("gpt-4o-mini", "gpt-4o", "gemini-2.5-pro", "claude-sonnet-4-5", "unknown-x"):
        for usage in usages:
            expected = cost._table_price(model, usage)  # genai-prices' own calculation
            # The first call reads the table, the second the remembered rates.
            for got in (cost_of(model, usage), cost_of(model, usage)):
                if expected is None:  # pytest >= 9.2 refuses approx(None) with a tolerance
                    assert got is None, model
                else:
                    assert got == pytest.approx(expected, rel=1e-9, abs=0), model
    known = cost._memo[1]
    assert known["gemini-2.5-pro"] is None  # tiered: the table computes it each time
    assert known["gpt-4o-mini"] is not None


def test_a_new_conversation_reuses_the_rates_and_a_new_table_drops_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    import genai_prices
    from genai_prices import data_snapshot

    from convo import cost

    looked_up: list[str] = []
    real = genai_prices.calc_price

    def counting(usage: Any, model_ref: str, **kw: Any) -> Any:
        looked_up.append(model_ref)
        return real(usage, model_ref, **kw)

    monkeypatch.setattr(genai_prices, "calc_price", counting)
    monkeypatch.setattr(cost, "_memo", (None, {}))
    usage = Usage(prompt_tokens=1000, completion_tokens=100, total_tokens=1100)
    reply = Reply(choices=(Choice(message=Message.assistant("ok"), finish_reason="stop"),))
    with SQLStore(f"sqlite:///{tmp_path / 'c.db'}") as store:
        for _ in range(3):  # three conversations, one turn each
            fake = ScriptedTransport(reply.model_copy(update={"usage": usage}))
            conv = convo.Conversation(model="gpt-4o-mini", transport=fake, store=store)
            conv.send("hi")
            assert store.turns(conv.id)[-1].cost == pytest.approx(0.00021)
    assert looked_up == ["gpt-4o-mini"]
    # Another price table (genai-prices' updater, or a custom snapshot) is read afresh.
    data_snapshot.set_custom_snapshot(copy.copy(data_snapshot.get_snapshot()))
    try:
        assert cost.cost_of("gpt-4o-mini", usage) == pytest.approx(0.00021)
        assert looked_up == ["gpt-4o-mini", "gpt-4o-mini"]
    finally:
        data_snapshot.set_custom_snapshot(None)
