"""Budget, templates, tools, structured output and summaries, through the conversation."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from convo import (
    BudgetError,
    Conversation,
    Message,
    ParseError,
    ScriptedTransport,
    Summarize,
    Template,
    ToolExecutionError,
    ToolRoundsExceededError,
    TruncatedError,
)
from convo.reply import Choice, Reply
from convo.stream import TextDelta, ToolCallEvent, ToolResultEvent
from convo.tokens import TokenCounter
from convo.transports.testing import tool_calls


def lookup(city: str) -> str:
    """Look a city up."""
    return f"{city}: 31C"


def boom() -> str:
    """Always fails."""
    raise RuntimeError("kaput")


def test_budget_drops_whole_old_turns() -> None:
    history = []
    for i in range(200):
        history += [Message.user(f"question {i} " + "word " * 50), Message.assistant("ok " * 50)]
    conv = Conversation(
        "sys",
        model="gpt-4",
        messages=history,
        transport=ScriptedTransport("fine"),
        context_window=2000,
        max_tokens=200,
    )
    req = conv.prepare("newest")
    assert req.prompt_tokens is not None and req.budget is not None
    assert req.prompt_tokens <= req.budget
    assert req.messages[0].text == "sys" and req.messages[-1].text == "newest"
    assert req.messages[1].role == "user"  # never starts with an orphan
    assert len(req.dropped) > 0 and list(req.dropped) == history[: len(req.dropped)]
    conv.send("newest")
    assert conv.messages[-1].text == "fine" and len(conv.history) == 402  # nothing lost


def test_message_larger_than_budget_fails_before_any_request() -> None:
    fake = ScriptedTransport("never")
    conv = Conversation(model="gpt-4", transport=fake, context_window=300, max_tokens=100)
    with pytest.raises(BudgetError) as info:
        conv.send("word " * 1000)
    assert info.value.over_by > 0 and fake.requests == [] and conv.messages == []


def test_summary_strategy_summarizes_once_and_keeps_it() -> None:
    history = []
    for i in range(60):
        history += [Message.user(f"fact {i}: " + "blah " * 40), Message.assistant("noted " * 20)]
    fake = ScriptedTransport("SUMMARY OF FACTS", "answer 1", "answer 2")
    conv = Conversation(
        "sys",
        model="gpt-4",
        messages=history,
        transport=fake,
        context_window=3000,
        max_tokens=200,
        strategy=Summarize(),
    )
    conv.send("what did I say?")
    summary_request, first = fake.requests[0], fake.requests[1]
    # The summary call is fitted to the window in tokens: the newest dropped messages
    # are shown, and the request leaves room for the summary's own max_tokens.
    counter = TokenCounter("gpt-4")
    assert counter.prompt(summary_request.messages) <= 3000 - Summarize().max_tokens
    assert "fact " in str(summary_request.body["messages"])
    assert summary_request.body["max_tokens"] == Summarize().max_tokens
    assert any("SUMMARY OF FACTS" in m.text for m in first.messages)
    conv.send("and then?")
    assert len(fake.requests) == 3  # the summary was kept, not recomputed
    assert any("SUMMARY OF FACTS" in m.text for m in fake.requests[2].messages)
    assert len(conv.history) == 124  # the history itself is whole


def test_template_system_prompt_and_variables() -> None:
    fake = ScriptedTransport("a", "b")
    conv = Conversation(
        Template("You sell {{ product }}."), variables={"product": "tea"}, model="m", transport=fake
    )
    conv.send("hi")
    assert fake.requests[0].body["messages"][0] == {"role": "system", "content": "You sell tea."}
    conv.variables = {"product": "{{ 7*7 }}"}  # a value is inserted literally
    conv.send("hi again")
    assert fake.requests[1].body["messages"][0]["content"] == "You sell {{ 7*7 }}."


def test_stream_events_show_tool_calls_and_results() -> None:
    fake = ScriptedTransport(tool_calls(("lookup", {"city": "Oslo"})), "It is 31C in Oslo.")
    conv = Conversation(model="m", transport=fake, tools=[lookup])
    events = list(conv.stream("weather?").events())
    kinds = [type(e) for e in events]
    assert kinds.index(ToolCallEvent) < kinds.index(ToolResultEvent) < kinds.index(TextDelta)
    result = next(e for e in events if isinstance(e, ToolResultEvent))
    assert result.message.text == "Oslo: 31C"
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "It is 31C in Oslo."
    assert [m.role for m in conv.messages] == ["user", "assistant", "tool", "assistant"]


def test_stream_events_include_calls_convo_answered_itself() -> None:
    fake = ScriptedTransport(tool_calls(("nope", {}), ("lookup", {"city": "Oslo"})), "ok")
    conv = Conversation(model="m", transport=fake, tools=[lookup])
    events = list(conv.stream("go").events())
    calls = [e.call.name for e in events if isinstance(e, ToolCallEvent)]
    results = [e.message for e in events if isinstance(e, ToolResultEvent)]
    assert calls == ["nope", "lookup"]
    assert [m.tool_call_id for m in results] == [m.tool_call_id for m in conv.messages[2:4]]
    assert "nope" in results[0].text and results[1].text == "Oslo: 31C"


def test_approval_hook_refuses_and_result_hook_sees_answers() -> None:
    seen: list[str] = []
    fake = ScriptedTransport(tool_calls(("lookup", {"city": "Oslo"}), ("nope", {})), "ok")
    conv = Conversation(
        model="m",
        transport=fake,
        tools=[lookup],
        approve=lambda call: False,
        on_tool_result=lambda call, message: seen.append(message.text),
    )
    conv.send("go")
    answers = [m.text for m in conv.messages if m.role == "tool"]
    assert "refused" in answers[0].lower() and "nope" in answers[1]
    assert len(answers) == 2


def test_tool_errors_raise_by_policy_and_leave_history() -> None:
    fake = ScriptedTransport("first", tool_calls(("boom", {})))
    conv = Conversation(model="m", transport=fake, tools=[boom], tool_errors="raise")
    conv.send("hello")
    with pytest.raises(ToolExecutionError) as info:
        conv.send("go")
    assert isinstance(info.value.__cause__, RuntimeError)
    assert [m.text for m in conv.messages] == ["hello", "first"]


def test_tool_error_returned_to_the_model_by_default() -> None:
    fake = ScriptedTransport(tool_calls(("boom", {})), "sorry")
    conv = Conversation(model="m", transport=fake, tools=[boom])
    conv.send("go")
    assert "kaput" in conv.messages[2].text


def test_max_tool_rounds() -> None:
    fake = ScriptedTransport(*[tool_calls(("lookup", {"city": "x"})) for _ in range(3)])
    conv = Conversation(model="m", transport=fake, tools=[lookup], max_tool_rounds=2)
    with pytest.raises(ToolRoundsExceededError):
        conv.send("loop")
    assert conv.messages == []


def test_after_the_last_round_the_model_is_asked_to_answer() -> None:
    fake = ScriptedTransport(
        tool_calls(("lookup", {"city": "a"})), tool_calls(("lookup", {"city": "b"})), "final"
    )
    conv = Conversation(
        model="m", transport=fake, tools=[lookup], max_tool_rounds=2, on_max_tool_rounds="answer"
    )
    assert conv.send("go").text == "final"
    assert [r.body["tool_choice"] for r in fake.requests] == ["auto", "auto", "none"]


def test_forced_tool_choice_returns_to_auto_after_a_round() -> None:
    fake = ScriptedTransport(tool_calls(("lookup", {"city": "x"})), "done")
    conv = Conversation(model="m", transport=fake, tools=[lookup])
    forced = {"type": "function", "function": {"name": "lookup"}}
    conv.send("go", tool_choice=forced)
    assert fake.requests[0].body["tool_choice"] == forced
    assert fake.requests[1].body["tool_choice"] == "auto"


def test_truncated_tool_call_is_not_run() -> None:
    cut = tool_calls(("boom", '{"a": '))
    cut = cut.model_copy(
        update={"choices": (cut.choices[0].model_copy(update={"finish_reason": "length"}),)}
    )
    conv = Conversation(model="m", transport=ScriptedTransport(cut), tools=[boom])
    with pytest.raises(TruncatedError):
        conv.send("go")
    assert conv.messages == []


class Order(BaseModel):
    customer: str
    qty: int
    note: str | None = None


def test_structured_output_retries_with_feedback() -> None:
    fake = ScriptedTransport('{"customer": "Ada"}', '{"customer": "Ada", "qty": 2, "note": null}')
    conv = Conversation(model="gpt-4o", transport=fake)
    reply = conv.send("extract", response_format=Order)
    assert reply.parsed == Order(customer="Ada", qty=2)
    assert fake.requests[0].body["response_format"]["type"] == "json_schema"
    feedback = fake.requests[1].messages[-1]
    assert feedback.role == "user" and "qty" in feedback.text
    assert conv.messages[-1].text == reply.text  # the history keeps the JSON text


def test_structured_output_gives_up_with_the_raw_text() -> None:
    conv = Conversation(
        model="m", transport=ScriptedTransport("nope", "still no", "never"), output_retries=2
    )
    with pytest.raises(ParseError) as info:
        conv.send("extract", response_format=Order)
    assert info.value.raw == "never" and conv.messages == []


def test_structured_output_forced_tool_mode_and_streamed_partials() -> None:
    args = '{"customer": "Bo", "qty": 7, "note": "fast"}'
    reply = tool_calls(("Order", args))
    conv = Conversation(model="m", transport=ScriptedTransport(reply), output_mode="tools")
    stream = conv.stream("extract", response_format=Order)
    values = list(stream)
    assert None not in values
    assert values[-1] == Order(customer="Bo", qty=7, note="fast")
    assert stream.reply is not None and stream.reply.parsed == values[-1]
    assert conv.messages[-1] == Message.assistant(args)  # no dangling tool call is stored


def test_streamed_partials_fill_in() -> None:
    text = '{"customer": "Ada Lovelace", "qty": 12, "note": "by sea"}'
    conv = Conversation(
        model="m",
        transport=ScriptedTransport(
            Reply(choices=(Choice(message=Message.assistant(text), finish_reason="stop"),))
        ),
    )
    values = list(conv.stream("x", response_format=Order))
    # Partial outputs are of the requested type, holding the fields received so far.
    assert values and all(isinstance(v, Order) for v in values)
    assert values[0].model_fields_set < values[-1].model_fields_set
    assert values[-1] == Order(customer="Ada Lovelace", qty=12, note="by sea")
