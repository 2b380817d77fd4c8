"""The summary step of a turn, and the strategy interface."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from convo import (
    Choice,
    Conversation,
    Message,
    ParameterError,
    Reply,
    ScriptedTransport,
    Summarize,
)
from convo.request import Request
from convo.summary import KeepNewest, Strategy
from convo.tokens import TokenCounter


def _long_history(turns: int = 40) -> list[Message]:
    history = []
    for i in range(turns):
        history += [Message.user(f"fact {i}: " + "blah " * 40), Message.assistant("ok " * 20)]
    return history


def _conv(fake: ScriptedTransport, model: str = "gpt-4", **kw: Any) -> Conversation:
    return Conversation(
        "sys",
        model=model,
        messages=_long_history(),
        transport=fake,
        context_window=3000,
        max_tokens=200,
        strategy=kw.pop("strategy", Summarize()),
        **kw,
    )


@pytest.mark.parametrize(
    "bad",
    [
        Reply(choices=(Choice(message=Message.assistant(""), finish_reason="stop"),)),
        Reply(choices=(Choice(message=Message.assistant("half a sum"), finish_reason="length"),)),
        Reply(
            choices=(
                Choice(
                    message=Message(role="assistant", content=None, refusal="no"),
                    finish_reason="stop",
                ),
            )
        ),
    ],
    ids=["empty", "cut-off", "refused"],
)
def test_a_bad_summary_is_not_used_and_the_turn_goes_on(
    bad: Reply, caplog: pytest.LogCaptureFixture
) -> None:
    fake = ScriptedTransport(bad, "the answer")
    conv = _conv(fake)
    with caplog.at_level(logging.WARNING, logger="convo"):
        reply = conv.send("what did I say?")
    assert reply.text == "the answer"
    assert conv._summary is None
    assert "summary was not used" in caplog.text
    answer_request = fake.requests[1]
    assert not any("Summary of" in m.text for m in answer_request.messages)


def test_the_summary_call_uses_max_completion_tokens_where_the_model_needs_it() -> None:
    fake = ScriptedTransport("SUM", "answer")
    conv = _conv(fake, model="o3-mini", encoding="o200k_base", max_completion_tokens=200)
    conv.context_window = 3000
    conv.send("q")
    body = fake.requests[0].body
    assert "max_tokens" not in body and body["max_completion_tokens"] == 512


def test_the_summary_request_fits_the_window_in_tokens() -> None:
    fake = ScriptedTransport("SUM", "answer")
    conv = _conv(fake, strategy=Summarize(max_transcript_chars=10_000_000))
    conv.send("q")
    counter = TokenCounter("gpt-4")
    assert counter.prompt(fake.requests[0].messages) <= 3000 - 512


def test_a_strategy_that_is_not_one_is_refused() -> None:
    class Mine:  # not a Strategy: must not be taken as "keep newest" silently
        def summarize(self) -> None: ...

    with pytest.raises(ParameterError, match="strategy"):
        Conversation(model="m", strategy=Mine(), transport=ScriptedTransport())  # type: ignore[arg-type]


def test_a_custom_strategy_is_called_by_the_turn() -> None:
    seen: list[int] = []

    class Count(Strategy):
        def request_messages(self, dropped: Any, previous: Message | None) -> list[Message] | None:
            seen.append(len(dropped))
            return [Message.user(f"summarize {len(dropped)} messages")]

    fake = ScriptedTransport("SUM", "answer")
    conv = _conv(fake, strategy=Count())
    conv.send("q")
    assert seen and fake.requests[0].messages[0].text.startswith("summarize")
    assert conv._summary is not None and conv._summary.message.text == "SUM"


def test_keep_newest_makes_no_extra_call() -> None:
    fake = ScriptedTransport("answer")
    _conv(fake, strategy=KeepNewest()).send("q")
    assert len(fake.requests) == 1


def test_user_metadata_may_not_use_convos_keys() -> None:
    with pytest.raises(ParameterError, match="convo's own"):
        Conversation(model="m", metadata={"convo.summary": 1}, transport=ScriptedTransport())


def test_a_transport_may_declare_the_window_of_its_model() -> None:
    class Small(ScriptedTransport):
        def context_window(self, model: str) -> int | None:
            return 4096

    conv = Conversation(model="unknown-local", transport=Small())
    request: Request = conv.prepare("hi")
    assert request.budget == 4096 - 4096 // 8
    conv.context_window = 2048  # an explicit window wins
    assert conv.prepare("hi").budget == 2048 - 2048 // 8
