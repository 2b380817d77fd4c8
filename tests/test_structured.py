"""OutputSpec: request params per mode, parse and validate, feedback, partial objects."""

from __future__ import annotations

import enum
import json
from typing import Any

import pytest
from pydantic import BaseModel, Field

from convo.errors import ParameterError, ParseError, RefusalError, TruncatedError
from convo.messages import FunctionCall, Message, ToolCall
from convo.structured import OutputSpec, output_spec


class Priority(enum.Enum):
    LOW = "low"
    HIGH = "high"


class Item(BaseModel):
    sku: str
    qty: int


class Order(BaseModel):
    """An order to ship."""

    id: int
    priority: Priority
    items: list[Item]
    note: str | None = None
    gift: bool = Field(default=False, description="Wrap it.")


GOOD = {
    "id": 7,
    "priority": "high",
    "items": [{"sku": "a-1", "qty": 2}, {"sku": "b-2", "qty": 1}],
    "note": None,
    "gift": True,
}


def spec() -> OutputSpec:
    result = output_spec(Order)
    assert result is not None
    return result


# -- building ------------------------------------------------------------------------


def test_model_spec() -> None:
    s = spec()
    assert s.name == "Order" and s.model is Order
    assert s.description == "An order to ship."
    assert s.schema is not None and s.schema["additionalProperties"] is False
    assert s.schema["required"] == ["id", "priority", "items", "note", "gift"]
    assert output_spec(None) is None
    assert output_spec(s) is s


def test_json_schema_mode_params() -> None:
    s = spec()
    rf = s.request_params("json_schema")["response_format"]
    assert rf == {
        "type": "json_schema",
        "json_schema": {
            "name": "Order",
            "schema": s.schema,
            "strict": True,
            "description": "An order to ship.",
        },
    }
    assert s.instructions("json_schema") is None


def test_json_object_mode_params_and_instructions() -> None:
    s = spec()
    assert s.request_params("json_object") == {"response_format": {"type": "json_object"}}
    text = s.instructions("json_object")
    assert text is not None and "JSON" in text
    schema_text = text[text.index("{") :]
    assert json.loads(schema_text) == s.schema


def test_tools_mode_forces_one_function() -> None:
    s = spec()
    params = s.request_params("tools")
    assert params["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "Order",
                "parameters": s.schema,
                "description": "An order to ship.",
            },
        }
    ]
    assert params["tool_choice"] == {"type": "function", "function": {"name": "Order"}}
    assert "response_format" not in params
    assert s.instructions("tools") is None


def test_bad_mode() -> None:
    with pytest.raises(ParameterError, match="'xml' is not one of"):
        spec().request_params("xml")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "rf",
    [
        {"type": "json_object"},
        {"type": "json_schema", "json_schema": {"name": "thing", "schema": {"type": "object"}}},
    ],
)
def test_api_forms_pass_through_unchanged(rf: dict[str, Any]) -> None:
    before = json.dumps(rf)
    s = output_spec(rf)
    assert s is not None
    for mode in ("json_schema", "json_object", "tools"):
        assert s.request_params(mode) == {"response_format": rf}  # type: ignore[arg-type]
        assert s.instructions(mode) is None  # type: ignore[arg-type]
    assert json.dumps(rf) == before
    assert s.parse(Message.assistant('{"a": 1}')) == {"a": 1}


def test_raw_schema_dict_is_made_strict() -> None:
    s = output_spec(
        {
            "title": "Pet record",
            "type": "object",
            "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
            "required": ["name"],
        }
    )
    assert s is not None and s.model is None
    assert s.name == "Pet_record"
    assert s.schema == {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    assert s.parse(Message.assistant('{"name": "Rex", "age": 3}')) == {"name": "Rex", "age": 3}


@pytest.mark.parametrize(
    ("rf", "match"),
    [
        ({"foo": 1}, "neither a JSON schema"),
        ({"type": "json_schema"}, 'needs a "json_schema" object'),
        ("json", "got str"),
        (Order(id=1, priority=Priority.LOW, items=[]), "got Order"),
    ],
)
def test_bad_response_format(rf: Any, match: str) -> None:
    with pytest.raises(ParameterError, match=match) as info:
        output_spec(rf)
    assert info.value.param == "response_format"


def test_generic_model_name_is_sanitized() -> None:
    from typing import Generic, TypeVar

    T = TypeVar("T")

    class Page(BaseModel, Generic[T]):
        rows: list[T]

    s = output_spec(Page[Item])
    assert s is not None and s.name == "Page_Item"


# -- parsing -------------------------------------------------------------------------


def test_parse_nested_optional_enum_list() -> None:
    order = spec().parse(Message.assistant(json.dumps(GOOD)), "stop")
    assert isinstance(order, Order)
    assert order.priority is Priority.HIGH
    assert order.items[1] == Item(sku="b-2", qty=1)
    assert order.note is None and order.gift is True


def test_parse_forced_tool_call_arguments() -> None:
    message = Message.assistant(
        tool_calls=[
            ToolCall(id="c", function=FunctionCall(name="Order", arguments=json.dumps(GOOD)))
        ]
    )
    assert spec().parse(message, "tool_calls").id == 7


def test_parse_strips_a_code_fence() -> None:
    text = "```json\n" + json.dumps(GOOD) + "\n```"
    assert spec().parse(Message.assistant(text)).id == 7


def test_invalid_reply_is_a_parse_error_with_raw_and_errors() -> None:
    bad = {**GOOD, "priority": "urgent", "items": [{"sku": "a", "qty": "many"}]}
    raw = json.dumps(bad)
    with pytest.raises(ParseError) as info:
        spec().parse(Message.assistant(raw), "stop")
    error = info.value
    assert error.raw == raw
    locs = [tuple(e["loc"]) for e in error.errors]
    assert ("priority",) in locs and ("items", 0, "qty") in locs
    assert json.dumps(error.errors)  # JSON-safe: it can be stored and logged
    assert "does not match Order" in str(error)


@pytest.mark.parametrize("text", ["", "   ", "not json", '{"id": 1', "[1, 2]"])
def test_not_json_or_empty_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError) as info:
        spec().parse(Message.assistant(text or None) if text else _empty(), "stop")
    assert info.value.raw == text


def _empty() -> Message:
    return Message(role="assistant", content="")


def test_dict_schema_parse_errors() -> None:
    s = output_spec({"type": "json_object"})
    assert s is not None
    with pytest.raises(ParseError, match="not JSON"):
        s.parse(Message.assistant("{oops"))
    with pytest.raises(ParseError, match="not an object"):
        s.parse(Message.assistant("[1]"))


def test_refusal_is_not_a_parse_error() -> None:
    message = Message(role="assistant", refusal="I can't help with that.")
    with pytest.raises(RefusalError) as info:
        spec().parse(message, "stop")
    assert info.value.refusal == "I can't help with that."


def test_truncated_reply() -> None:
    with pytest.raises(TruncatedError, match="max_tokens"):
        spec().parse(Message.assistant('{"id": 7, "prio'), "length")


# -- feedback ------------------------------------------------------------------------


def test_feedback_lists_the_errors_and_asks_again() -> None:
    bad = {**GOOD, "id": "seven", "items": [{"sku": "a"}]}
    with pytest.raises(ParseError) as info:
        spec().parse(Message.assistant(json.dumps(bad)))
    message = spec().feedback(info.value)
    assert message.role == "user"
    lines = message.text.splitlines()
    assert lines[0] == "Your reply did not match the required Order JSON format:"
    assert any(line.startswith("- id: Input should be a valid integer") for line in lines)
    assert "- items.0.qty: Field required" in lines
    assert lines[-1] == "Answer again with only the corrected JSON object."


def test_feedback_for_invalid_json_and_many_errors() -> None:
    with pytest.raises(ParseError) as info:
        spec().parse(Message.assistant("{broken"))
    assert "- (the whole object): Invalid JSON" in spec().feedback(info.value).text
    many = ParseError("x", raw="", errors=[{"loc": [i], "msg": "bad"} for i in range(30)])
    text = spec().feedback(many).text
    assert "- 19: bad" in text and "- 20: bad" not in text
    assert "- and 10 more errors" in text
    assert "- plain" in spec().feedback(ParseError("plain")).text


# -- partial -------------------------------------------------------------------------


def test_partial_grows_with_complete_values_only() -> None:
    doc = json.dumps(GOOD)
    s = spec()
    seen: list[dict[str, Any]] = []
    for end in range(len(doc) + 1):
        value = s.partial(doc[:end])
        assert value is None or isinstance(value, dict)
        if value is not None and (not seen or value != seen[-1]):
            seen.append(value)
    assert seen[0] == {}
    assert seen[-1] == GOOD
    assert {"id": 7} in seen
    assert {"id": 7, "priority": "high", "items": []} in seen
    assert {"id": 7, "priority": "high", "items": [{"sku": "a-1"}]} in seen
    for value in seen:  # every snapshot is a prefix of the final object, never a guess
        assert _is_prefix(value, GOOD)


def _is_prefix(part: Any, whole: Any) -> bool:
    if isinstance(part, dict):
        return all(k in whole and _is_prefix(v, whole[k]) for k, v in part.items())
    if isinstance(part, list):
        return len(part) <= len(whole) and all(
            _is_prefix(a, b) for a, b in zip(part, whole, strict=False)
        )
    return bool(part == whole)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        ("Sure! Here", None),
        ("[1, 2", None),
        ("{", {}),
        ('{"id": 12', {}),
        ('{"id": 12,', {"id": 12}),
        ('{"id": -', {}),
        ('{"note": "ends in 5', {}),
        ('{"note": "quote \\" 5', {}),
        ('{"gift": true', {"gift": True}),
        ('```json\n{"id": 1, "x', {"id": 1}),
        ('```json\n{"id": 1}\n```', {"id": 1}),
        ('{"a": 1}} trailing junk', {"a": 1}),
    ],
)
def test_partial_edge_cases(text: str, expected: dict[str, Any] | None) -> None:
    assert spec().partial(text) == expected
