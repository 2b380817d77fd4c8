"""Fitting a conversation to its budget: whole turns, newest first, nothing orphaned."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from convo.budget import (
    CONTEXT_WINDOWS,
    DEFAULT_CONTEXT_WINDOW,
    Fit,
    History,
    budget_for,
    context_window,
    fit,
)
from convo.errors import BudgetError, ParameterError
from convo.messages import FunctionCall, Message, ToolCall
from convo.summary import KeepNewest, Strategy, Summarize
from convo.tokens import TokenCounter, counter_for

COUNTER = counter_for("gpt-4o")
SYSTEM = (Message.system("You are a helpful assistant."),)


# -- windows and budgets ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "window"),
    [
        ("gpt-4o", 128_000),
        ("gpt-4o-mini-2024-07-18", 128_000),
        ("gpt-4.1", 1_047_576),
        ("gpt-4.1-mini", 1_047_576),
        ("gpt-4", 8_192),
        ("gpt-4-0613", 8_192),
        ("gpt-4-32k-0613", 32_768),
        ("gpt-4-turbo-2024-04-09", 128_000),
        ("gpt-3.5-turbo", 16_385),
        ("gpt-3.5-turbo-0613", 4_096),
        ("o1", 200_000),
        ("o1-mini", 128_000),
        ("o3-mini", 200_000),
        ("o4-mini", 200_000),
        ("gpt-5", 400_000),
        ("gpt-5.1-codex", 400_000),
        ("ft:gpt-4o-mini-2024-07-18:acme::abc", 128_000),
        ("openai/gpt-4o", 128_000),
        ("llama3.1:8b", DEFAULT_CONTEXT_WINDOW),
    ],
)
def test_context_window(model: str, window: int) -> None:
    assert context_window(model) == window


def test_every_window_is_reachable_by_its_own_name() -> None:
    for prefix, window in CONTEXT_WINDOWS.items():
        assert context_window(prefix) == window


def test_budget_reserves_the_reply() -> None:
    assert budget_for("gpt-4o", {"max_tokens": 1000}) == 127_000
    assert budget_for("gpt-4o", {"max_completion_tokens": 2000}) == 126_000
    assert budget_for("gpt-4o", {"max_tokens": 10, "max_completion_tokens": 3000}) == 125_000
    assert budget_for("gpt-4o", {}, reserve_tokens=0) == 128_000
    assert budget_for("gpt-4o", {"max_tokens": 100}, reserve_tokens=5000) == 127_900
    assert budget_for("gpt-4o", {}) == 128_000 - 4096
    assert budget_for("gpt-4", {}) == 8192 - 1024  # at most an eighth of a small window
    assert budget_for("anything", {}, context_window=32_000) == 28_000


def test_budget_errors() -> None:
    with pytest.raises(ParameterError, match="no room") as info:
        budget_for("gpt-4", {"max_tokens": 8192})
    assert info.value.param == "max_tokens"
    with pytest.raises(ParameterError) as info:
        budget_for("gpt-4", {}, reserve_tokens=-1)
    assert info.value.param == "reserve_tokens"
    with pytest.raises(ParameterError) as info:
        budget_for("gpt-4", {}, context_window=0)
    assert info.value.param == "context_window"


# -- fit ---------------------------------------------------------------------------------


def _call(i: int, j: int) -> ToolCall:
    return ToolCall(id=f"c{i}_{j}", function=FunctionCall(name="lookup", arguments=f'{{"n": {j}}}'))


def _turn(i: int, rounds: int = 0, calls: int = 1, words: int = 3) -> list[Message]:
    out = [Message.user(f"question {i} " + "word " * words)]
    for r in range(rounds):
        tcs = [_call(i * 10 + r, j) for j in range(calls)]
        out.append(Message.assistant(tool_calls=tcs))
        out.extend(Message.tool(f"result {c.id}", tool_call_id=c.id) for c in tcs)
    out.append(Message.assistant(f"answer {i} " + "word " * words))
    return out


def _history(turns: int, **kw: Any) -> list[Message]:
    return [m for i in range(turns) for m in _turn(i, **kw)]


def test_everything_fits() -> None:
    history = _history(5, rounds=1)
    pending = [Message.user("next")]
    result = fit(SYSTEM, history, pending, counter=COUNTER, budget=10_000, tools_tokens=50)
    assert result.messages == (*SYSTEM, *history, *pending)
    assert len(result.dropped) == 0
    assert result.prompt_tokens == COUNTER.messages(result.messages) + 50
    assert result.budget == 10_000
    assert isinstance(result, Fit)


def test_drops_whole_turns_from_the_oldest() -> None:
    history = _history(10, rounds=2, calls=2)
    pending = [Message.user("next")]
    per_turn = COUNTER.messages(_turn(9, rounds=2, calls=2)) - 3
    fixed = COUNTER.messages([*SYSTEM, *pending])
    # Room for three turns and a bit, never enough for the fourth.
    result = fit(SYSTEM, history, pending, counter=COUNTER, budget=fixed + 3 * per_turn + 10)
    kept = result.messages[1:-1]
    assert kept == tuple(history[-3 * len(_turn(0, rounds=2, calls=2)) :])
    assert kept[0].role == "user"
    assert list(result.dropped) == history[: len(history) - len(kept)]


def test_not_even_the_pinned_and_pending_fit() -> None:
    pending = [Message.user("word " * 200)]
    need = COUNTER.messages([*SYSTEM, *pending]) + 40
    with pytest.raises(BudgetError, match=f"{need - 100} more than the budget of 100") as info:
        fit(SYSTEM, _history(3), pending, counter=COUNTER, budget=100, tools_tokens=40)
    assert info.value.over_by == need - 100
    assert info.value.budget == 100


def test_exactly_at_the_budget_fits() -> None:
    history = _history(2)
    pending = [Message.user("next")]
    total = COUNTER.messages([*SYSTEM, *history, *pending]) + 7
    assert (
        len(fit(SYSTEM, history, pending, counter=COUNTER, budget=total, tools_tokens=7).dropped)
        == 0
    )
    assert (
        len(
            fit(SYSTEM, history, pending, counter=COUNTER, budget=total - 1, tools_tokens=7).dropped
        )
        == 2
    )


def test_a_leading_greeting_is_kept_only_with_the_whole_history() -> None:
    history = [Message.assistant("Hello! How can I help?"), *_history(3)]
    pending = [Message.user("next")]
    whole = fit((), history, pending, counter=COUNTER, budget=10_000)
    assert whole.messages[0].role == "assistant"
    assert len(whole.dropped) == 0
    tight = COUNTER.messages([*history, *pending]) - 1
    cut = fit((), history, pending, counter=COUNTER, budget=tight)
    assert cut.messages[0].role == "user"
    assert list(cut.dropped) == [history[0]]


class _Watched(Sequence[Message]):
    """A history that records which indexes were read."""

    def __init__(self, items: list[Message]) -> None:
        self.items = items
        self.read: set[int] = set()

    def __len__(self) -> int:
        return len(self.items)

    @overload
    def __getitem__(self, i: int) -> Message: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Message]: ...
    def __getitem__(self, i: int | slice) -> Message | Sequence[Message]:
        if isinstance(i, slice):
            raise AssertionError("fit must not slice a long history")
        self.read.add(i % len(self.items))
        return self.items[i]


def test_work_is_proportional_to_what_is_kept() -> None:
    turn = _turn(0, rounds=1, calls=2)
    history = _Watched(turn * 25_000)  # 125,000 messages
    result = fit(SYSTEM, history, [Message.user("next")], counter=COUNTER, budget=2000)
    kept = len(result.messages) - 2
    assert 0 < kept < 500
    assert len(history.read) <= kept + len(turn)  # the kept turns and the one that did not fit
    assert min(history.read) >= len(history) - kept - len(turn)
    assert len(result.dropped) == len(history) - kept


def test_dropped_is_a_view_of_the_history() -> None:
    history = _history(50)
    result = fit(SYSTEM, history, [Message.user("next")], counter=COUNTER, budget=200)
    dropped = result.dropped
    assert not isinstance(dropped, list | tuple)
    k = len(dropped)
    assert 0 < k < len(history)
    assert dropped[0] is history[0]
    assert dropped[-1] is history[k - 1]
    assert list(dropped) == history[:k]
    assert dropped[1:3] == history[1:3]
    assert dropped[::-1][0] is history[k - 1]
    with pytest.raises(IndexError):
        dropped[k]
    assert str(k) in repr(dropped)


def test_counts_come_from_the_message_caches() -> None:
    history = _history(20, rounds=1)
    counter = TokenCounter("gpt-4o")
    fit(SYSTEM, history, [Message.user("a")], counter=counter, budget=100_000)
    encoded: list[str] = []
    real = counter.encoding

    class Spy:
        name = real.name

        def encode_ordinary(self, text: str) -> list[int]:
            encoded.append(text)
            return real.encode_ordinary(text)

    counter.encoding = Spy()  # type: ignore[assignment]
    fit(SYSTEM, history, [Message.user("b")], counter=counter, budget=100_000)
    assert encoded == ["b"]  # only the new message was encoded (roles are counted once)


# -- property tests -----------------------------------------------------------------------


@st.composite
def _conversations(draw: st.DrawFn) -> tuple[list[Message], list[Message], list[Message], int]:
    n = draw(st.integers(0, 12))
    history: list[Message] = []
    if draw(st.booleans()):
        history.append(Message.assistant("Hi, I am here to help."))
    for i in range(n):
        history += _turn(
            i,
            rounds=draw(st.integers(0, 2)),
            calls=draw(st.integers(1, 3)),
            words=draw(st.integers(0, 40)),
        )
        if draw(st.integers(0, 9)) == 0:  # now and then a system note inside a turn
            history.append(Message.system("Note: be concise."))
    pinned = [Message.system("sys " + "x " * draw(st.integers(0, 30)))][: draw(st.integers(0, 1))]
    pending = _turn(99, rounds=draw(st.integers(0, 1)), words=draw(st.integers(0, 20)))[:-1]
    tools_tokens = draw(st.integers(0, 80))
    return pinned, history, pending, tools_tokens


def _check_no_orphans(kept: Sequence[Message], whole: bool) -> None:
    if kept and not whole:
        assert kept[0].role == "user"
    calls: set[str] = set()
    for i, m in enumerate(kept):
        if m.role == "tool":
            assert m.tool_call_id in calls, "a tool answer without its call"
        for c in m.tool_calls or ():
            calls.add(c.id)
            answers = {x.tool_call_id for x in kept[i + 1 :] if x.role == "tool"}
            assert c.id in answers, "a tool call without its answer"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_conversations(), st.floats(0.0, 1.2))
def test_fit_properties(conv: Any, fraction: float) -> None:
    pinned, history, pending, tools_tokens = conv
    fixed = COUNTER.messages([*pinned, *pending]) + tools_tokens
    total = COUNTER.messages([*pinned, *history, *pending]) + tools_tokens
    budget = fixed + int((total - fixed) * fraction)
    result = fit(
        pinned, history, pending, counter=COUNTER, budget=budget, tools_tokens=tools_tokens
    )

    k = len(result.dropped)
    kept = history[k:]
    assert result.messages == (*pinned, *kept, *pending)
    assert list(result.dropped) == history[:k]
    assert result.prompt_tokens == COUNTER.messages(result.messages) + tools_tokens
    assert result.prompt_tokens <= budget
    _check_no_orphans(kept, whole=k == 0)
    if k:  # the newest dropped turn would not have fit
        start = (
            max(i for i in range(k) if history[i].role == "user")
            if any(m.role == "user" for m in history[:k])
            else 0
        )
        extra = sum(COUNTER.message(m) for m in history[start:k])
        assert result.prompt_tokens + extra > budget

    again = fit(pinned, kept, pending, counter=COUNTER, budget=budget, tools_tokens=tools_tokens)
    assert again.messages == result.messages
    assert len(again.dropped) == 0
    assert again.prompt_tokens == result.prompt_tokens


@settings(max_examples=100, deadline=None)
@given(_conversations(), st.integers(1, 200))
def test_too_small_a_budget_says_by_how_much(conv: Any, short: int) -> None:
    pinned, history, pending, tools_tokens = conv
    fixed = COUNTER.messages([*pinned, *pending]) + tools_tokens
    with pytest.raises(BudgetError) as info:
        fit(
            pinned,
            history,
            pending,
            counter=COUNTER,
            budget=fixed - short,
            tools_tokens=tools_tokens,
        )
    assert info.value.over_by == short
    assert info.value.budget == fixed - short


# -- strategies ---------------------------------------------------------------------------


def test_strategies_share_a_base() -> None:
    assert isinstance(KeepNewest(), Strategy)
    assert isinstance(Summarize(), Strategy)


def test_summarize_request_shows_the_dropped_turns_and_the_previous_summary() -> None:
    s = Summarize()
    previous = s.summary_message("The user is called Ada.")
    dropped = _turn(1, rounds=1, calls=2)
    messages = s.request_messages(dropped, previous)
    assert [m.role for m in messages] == ["system", "user"]
    assert messages[0].text == s.prompt
    body = messages[1].text
    assert "Previous summary:\nThe user is called Ada." in body
    assert "Summary of the earlier part" not in body  # the marker is not repeated
    assert "User: question 1" in body
    assert '[called lookup({"n": 0})]' in body
    assert '[called lookup({"n": 1})]' in body
    assert "Tool result (c10_0): result c10_0" in body
    assert body.index("User: question 1") < body.index("Assistant: answer 1")


def test_summarize_bounds_the_transcript_and_reads_only_its_newest_part() -> None:
    s = Summarize(max_transcript_chars=4000)
    history = _Watched(_history(20_000, words=30))
    messages = s.request_messages(history, None)
    body = messages[1].text
    assert len(body) < 4000 + 200
    assert "earlier messages are not shown" in body
    assert f"answer {19_999}" in body
    assert len(history.read) < 100
    huge = s.request_messages([Message.user("x" * 100_000)], None)[1].text
    assert len(huge) < 1000


def test_summary_message_marks_itself() -> None:
    m = Summarize().summary_message("  Ada likes tea.  ")
    assert m.role == "system"
    assert m.text.startswith("Summary of the earlier part of this conversation")
    assert m.text.endswith("Ada likes tea.")


def test_summarize_validates() -> None:
    with pytest.raises(ParameterError):
        Summarize(max_tokens=0)
    with pytest.raises(ParameterError):
        Summarize(max_transcript_chars=10)
    assert Summarize(prompt="Summarize in French.", max_tokens=100).max_tokens == 100


def test_a_custom_summary_format() -> None:
    class Bullets(Summarize):
        def summary_message(self, text: str) -> Message:
            return Message.system("Earlier: " + text)

    assert Bullets().summary_message("x").text == "Earlier: x"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_conversations(), st.floats(0.0, 1.2), st.integers(0, 6))
def test_indexed_history_fits_exactly_like_the_walk(conv: Any, fraction: float, skip: int) -> None:
    pinned, history, pending, tools_tokens = conv
    skip = min(skip, len(history))
    fixed = COUNTER.messages([*pinned, *pending]) + tools_tokens
    total = COUNTER.messages([*pinned, *history[skip:], *pending]) + tools_tokens
    budget = fixed + int((total - fixed) * fraction)
    indexed = History(history[: len(history) // 2])
    indexed.sums(COUNTER)  # sums made early must be extended by later appends
    indexed.extend(history[len(history) // 2 :])
    args: dict[str, Any] = {"counter": COUNTER, "budget": budget, "tools_tokens": tools_tokens}
    walked = fit(pinned, history, pending, skip=skip, **args)
    fast = fit(pinned, indexed, pending, skip=skip, **args)
    assert fast.messages == walked.messages
    assert fast.prompt_tokens == walked.prompt_tokens
    assert list(fast.dropped) == list(walked.dropped) == history[skip : skip + len(walked.dropped)]


def test_wire_dicts_are_made_only_for_the_messages_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A loaded 100,000-message history sends its newest few hundred: the first request
    # must not make every message's wire dict (it took 1,000x a warm request).
    import convo.budget
    from convo.wire import message_to_wire

    made: list[Message] = []

    def counting(m: Message) -> dict[str, Any]:
        made.append(m)
        return message_to_wire(m)

    monkeypatch.setattr(convo.budget, "message_to_wire", counting)
    messages = [
        Message.user(f"q{i}") if i % 2 == 0 else Message.assistant(f"a{i}") for i in range(1000)
    ]
    history = History(messages)
    view = history.view()
    assert view.wire(990) == [message_to_wire(m) for m in messages[990:]]
    assert len(made) == 10
    history.append(Message.user("new"))
    assert history.view().wire(980) == [message_to_wire(m) for m in [*messages[980:], history[-1]]]
    assert len(made) == 10 + 10 + 1  # the ten before, and the new one; none twice
    assert history.wire(0, 3) == [message_to_wire(m) for m in messages[:3]]
    assert history.wire(-2) == [message_to_wire(m) for m in history[-2:]]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("append"), st.integers(1, 5)),
            st.tuples(st.just("wire"), st.integers(-30, 30), st.integers(-30, 30) | st.none()),
        ),
        max_size=30,
    )
)
def test_wire_dicts_are_right_for_any_ranges_and_appends_and_made_once(
    steps: list[tuple[Any, ...]],
) -> None:
    # The history remembers which run of positions is made; requests inside, across,
    # before and after it, on a history that grows between them, must all see the
    # right dicts, and no message's dict is made twice.
    from unittest import mock

    import convo.budget
    from convo.wire import message_to_wire

    made: list[int] = []

    def counting(m: Message) -> dict[str, Any]:
        made.append(id(m))
        return message_to_wire(m)

    messages: list[Message] = []
    history = History()
    with mock.patch.object(convo.budget, "message_to_wire", counting):
        for step in steps:
            if step[0] == "append":
                for _ in range(step[1]):
                    messages.append(Message.user(f"m{len(messages)}"))
                    history.append(messages[-1])
            else:
                _, start, stop = step
                assert history.wire(start, stop) == [
                    message_to_wire(m) for m in messages[start:stop]
                ]
                assert history.view().wire(start) == [message_to_wire(m) for m in messages[start:]]
    assert len(made) == len(set(made))
