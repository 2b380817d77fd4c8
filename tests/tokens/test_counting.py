"""Token counts: the cookbook's reference totals, safe-side estimates, caching, hazards."""

from __future__ import annotations

from typing import Any

import pytest

from convo.errors import MessageError
from convo.messages import FunctionCall, ImagePart, ImageURL, Message, TextPart, ToolCall
from convo.tokens import TokenCounter, count_tokens, counter_for, counting
from convo.tokens.counting import RULES_VERSION

# The examples of OpenAI's cookbook "How to count tokens with tiktoken", whose totals
# the notebook checked against the API's usage.prompt_tokens.
JARGON = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates corporate "
        "jargon into plain English.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "New synergies will help drive top-line growth.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on "
        "opportunities for increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the client "
        "deliverable.",
    },
]
WEATHER_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_current_weather",
            "description": "Get the current weather in a given location",
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {
                        "type": "string",
                        "description": "The city and state, e.g. San Francisco, CA",
                    },
                    "unit": {
                        "type": "string",
                        "description": "The unit of temperature to return",
                        "enum": ["celsius", "fahrenheit"],
                    },
                },
                "required": ["location"],
            },
        },
    }
]
WEATHER = [
    {
        "role": "system",
        "content": "You are a helpful assistant that can answer to questions about the weather.",
    },
    {"role": "user", "content": "What's the weather like in San Francisco?"},
]


@pytest.mark.parametrize(
    ("model", "total"),
    [
        ("gpt-3.5-turbo", 129),
        ("gpt-4-0613", 129),
        ("gpt-4", 129),
        ("gpt-4o", 124),
        ("gpt-4o-mini", 124),
    ],
)
def test_cookbook_messages_total(model: str, total: int) -> None:
    assert count_tokens(JARGON, model=model) == total


@pytest.mark.parametrize(
    ("model", "total"),
    [("gpt-3.5-turbo", 105), ("gpt-4", 105), ("gpt-4o", 101), ("gpt-4o-mini", 101)],
)
def test_cookbook_tools_total(model: str, total: int) -> None:
    assert count_tokens(WEATHER, model=model, tools=WEATHER_TOOLS) == total


def test_message_values_and_dicts_count_the_same() -> None:
    values = [Message.model_validate(d) for d in JARGON]
    assert count_tokens(values, model="gpt-4") == count_tokens(JARGON, model="gpt-4") == 129


def test_messages_is_the_sum_of_messages_plus_priming() -> None:
    counter = TokenCounter("gpt-4o")
    ms = [Message.model_validate(d) for d in JARGON]
    assert counter.messages(ms) == sum(counter.message(m) for m in ms) + 3
    assert counter.prompt(ms) == counter.messages(ms)


def test_bad_input_names_the_message() -> None:
    with pytest.raises(MessageError, match="message 1"):
        count_tokens([{"role": "user", "content": "hi"}, {"role": "bot"}], model="gpt-4o")


def test_special_token_text_counts_as_ordinary_text() -> None:
    counter = TokenCounter("gpt-4o")
    text = "Ignore this: <|endoftext|><|endofprompt|>"
    assert counter.text(text) == len(counter.encoding.encode_ordinary(text)) > 3
    assert counter.message(Message.user(text)) == 3 + 1 + counter.text(text)


def _max_whitespace_token(counter: TokenCounter) -> int:
    ranks = counter.encoding._mergeable_ranks
    return max(len(t) for t in ranks if t and t.isspace())


@pytest.mark.parametrize("model", ["gpt-4", "gpt-4o"])
@pytest.mark.parametrize(
    "text",
    [" " * 1_000_000, "a" + "\t" * 1_200_000 + "b", "\u00a0" * 1_000_001, "x " + " " * 2_000_000],
    ids=["spaces", "tabs-between-words", "nbsp", "two-megabytes"],
)
def test_a_megabyte_of_whitespace_does_not_crash(model: str, text: str) -> None:
    counter = TokenCounter(model)
    n = counter.text(text)
    # A lower bound: no token holds more whitespace than the longest whitespace token.
    assert n >= len(text.encode()) // _max_whitespace_token(counter)
    assert n <= len(text.encode())  # a token is at least one byte


def test_whitespace_splitting_never_undercounts() -> None:
    counter = TokenCounter("gpt-4")  # cl100k_base encodes these runs whole: compare
    for text in [" " * 250_000, "word " * 30_000 + " " * 150_000 + "end", "\n" + " " * 300_000]:
        exact = len(counter.encoding.encode_ordinary(text))
        assert exact <= counter.text(text) <= exact + 12


class _Panicking:
    def encode_ordinary(self, text: str) -> list[int]:
        raise _Panic("stack overflow")


class _Panic(BaseException):
    pass


_Panic.__name__ = "PanicException"


def test_an_unforeseen_tokenizer_panic_gives_a_safe_side_count() -> None:
    text = "é" * 120_000  # long enough to take the guarded path
    assert counting._count_text(_Panicking(), text) == len(text.encode())  # type: ignore[arg-type]


def test_keyboard_interrupt_is_not_swallowed() -> None:
    class Interrupted:
        def encode_ordinary(self, text: str) -> list[int]:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        counting._encode_count(Interrupted(), "x")  # type: ignore[arg-type]


class _CountingEncoding:
    """Wraps an encoding and records each text it encodes."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.calls: list[str] = []

    def encode_ordinary(self, text: str) -> list[int]:
        self.calls.append(text)
        result: list[int] = self.inner.encode_ordinary(text)
        return result


def _spy(model: str) -> tuple[TokenCounter, _CountingEncoding]:
    counter = TokenCounter(model)
    spy = _CountingEncoding(counter.encoding)
    counter.encoding = spy  # type: ignore[assignment]
    return counter, spy


def test_a_message_is_encoded_once_in_its_life() -> None:
    m = Message.user("The quick brown fox jumps over the lazy dog.")
    first, spy = _spy("gpt-4o")
    n = first.message(m)
    calls = len(spy.calls)
    assert calls > 0
    assert first.message(m) == n
    assert first.messages([m, m, m]) == 3 * n + 3
    assert len(spy.calls) == calls
    # A second counter with the same encoding and overheads reads the same cache.
    second, spy2 = _spy("gpt-4o-mini")
    assert second.message(m) == n
    assert spy2.calls == []
    # Another encoding counts anew, and both counts stay on the message.
    third, spy3 = _spy("gpt-4")
    third.message(m)
    assert spy3.calls
    assert set(m._tokens) == {f"{RULES_VERSION}:o200k_base:3:1", f"{RULES_VERSION}:cl100k_base:3:1"}


def test_equal_messages_keep_separate_caches() -> None:
    a, b = Message.user("same"), Message.user("same")
    counter = TokenCounter("gpt-4o")
    counter.message(a)
    assert a == b
    assert b._tokens == {}


def test_gpt_35_turbo_0301_overheads() -> None:
    counter = TokenCounter("gpt-3.5-turbo-0301")
    plain = Message.user("hello there")
    named = Message.system("hello there", name="example_user")
    text = counter.text
    assert counter.message(plain) == 4 + text("user") + text("hello there")
    assert (
        counter.message(named)
        == 4 + text("system") + text("hello there") + text("example_user") - 1
    )
    assert f"{RULES_VERSION}:cl100k_base:4:-1" in plain._tokens


def _call(name: str, arguments: str, id: str = "call_1") -> ToolCall:
    return ToolCall(id=id, function=FunctionCall(name=name, arguments=arguments))


def test_tool_calls_cover_what_the_api_reported() -> None:
    # A request whose usage.prompt_tokens the API reported as 35 (gpt-4, January 2024).
    messages = [
        Message.assistant(
            tool_calls=[
                _call(
                    "get_current_weather",
                    '{\n  "location": "Boston, MA"\n}',
                    id="call_Id8ycVMsW8gdsf7kSXfgAcf1",
                )
            ]
        ),
        Message.tool(
            "29 degree celcius",
            tool_call_id="call_Id8ycVMsW8gdsf7kSXfgAcf1",
            name="get_current_weather",
        ),
    ]
    n = count_tokens(messages, model="gpt-4")
    assert 35 <= n <= 35 + 5


def test_parallel_calls_cost_more_than_their_parts() -> None:
    counter = TokenCounter("gpt-4o")
    one = _call("lookup", '{"q": "a"}')
    two = _call("lookup", '{"q": "b"}', id="call_2")
    single = counter.message(Message.assistant(tool_calls=[one]))
    both = counter.message(Message.assistant(tool_calls=[one, two]))
    payload = counter.text("lookup") + counter.text('{"q": "b"}')
    assert both > single + payload


def test_the_tool_call_id_is_not_counted_but_an_unnamed_answer_gets_an_allowance() -> None:
    counter = TokenCounter("gpt-4o")
    short = Message.tool("42", tool_call_id="c")
    long = Message.tool("42", tool_call_id="call_" + "x" * 40)
    assert counter.message(short) == counter.message(long)
    named = Message.tool("42", tool_call_id="c", name="f")
    assert counter.message(short) == 3 + 1 + 1 + counting._TOOL_AUTHOR
    assert counter.message(named) == 3 + 1 + 1 + 1 + 1


def test_images_count_a_documented_safe_side_constant() -> None:
    counter = TokenCounter("gpt-4o")

    def image(detail: Any) -> Message:
        part = ImagePart(image_url=ImageURL(url="data:image/png;base64,AA==", detail=detail))
        return Message.user((TextPart(text="What is this?"), part))

    base = 3 + 1 + counter.text("What is this?")
    assert counter.message(image("low")) == base + counting.IMAGE_TOKENS_LOW
    assert counter.message(image("high")) == base + counting.IMAGE_TOKENS
    assert counter.message(image(None)) == base + counting.IMAGE_TOKENS


def test_refusal_is_counted() -> None:
    counter = TokenCounter("gpt-4o")
    m = Message(role="assistant", refusal="I can't help with that.")
    assert counter.message(m) == 3 + 1 + counter.text("I can't help with that.")


def test_tools_tokens() -> None:
    counter = TokenCounter("gpt-4o")
    assert counter.tools([], has_system=True) == 0
    with_system = counter.tools(WEATHER_TOOLS, has_system=True)
    assert counter.tools(WEATHER_TOOLS, has_system=False) == with_system + 4
    assert with_system == 101 - counter.messages(Message.model_validate(d) for d in WEATHER)


def test_tools_are_rendered_once_per_schema_set(monkeypatch: pytest.MonkeyPatch) -> None:
    rendered: list[int] = []
    real = counting.render_tools  # type: ignore[attr-defined]

    def spy(tools: Any) -> str:
        rendered.append(len(tools))
        return real(tools)

    monkeypatch.setattr(counting, "render_tools", spy)
    counter = TokenCounter("gpt-4o")
    first = counter.tools(WEATHER_TOOLS, has_system=True)
    assert counter.tools([dict(t) for t in WEATHER_TOOLS], has_system=False) == first + 4
    assert rendered == [1]


def test_nested_schemas_count_more_than_their_flat_part() -> None:
    counter = TokenCounter("gpt-4o")
    nested = [
        {
            "type": "function",
            "function": {
                "name": "book",
                "description": "Book a trip.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "traveller": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "age": {"type": "integer", "minimum": 0},
                            },
                            "required": ["name"],
                        },
                        "stops": {"type": "array", "items": {"type": "string"}},
                    },
                    "required": ["traveller"],
                },
            },
        }
    ]
    flat = [
        {
            "type": "function",
            "function": {
                "name": "book",
                "description": "Book a trip.",
                "parameters": {"type": "object", "properties": {"stops": {"type": "string"}}},
            },
        }
    ]
    assert counter.tools(nested, has_system=False) > counter.tools(flat, has_system=False)


def test_exactness_and_shared_counters() -> None:
    assert TokenCounter("gpt-4o").exact
    assert not TokenCounter("qwen2.5:7b").exact
    assert counter_for("gpt-4o") is counter_for("gpt-4o")
    assert counter_for("gpt-4o", "cl100k_base").encoding.name == "cl100k_base"
    assert "exact=True" in repr(counter_for("gpt-4o"))
