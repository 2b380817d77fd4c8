"""Tool.validate: whatever the model sends, a clear message for the model or valid kwargs."""

from __future__ import annotations

import enum

import pytest
from pydantic import BaseModel

from convo.errors import ToolArgumentsError
from convo.tools import Tool


class Size(enum.Enum):
    S = "s"
    L = "l"


class Item(BaseModel):
    sku: str
    qty: int = 1


def order(items: list[Item], size: Size, note: str | None = None, rush: bool = False) -> str:
    """Place an order."""
    return "ok"


TOOL = Tool(order)


def _error(arguments: str) -> str:
    with pytest.raises(ToolArgumentsError) as info:
        TOOL.validate(arguments)
    assert info.value.tool == "order"
    return str(info.value)


def test_valid_arguments_are_coerced_and_defaults_filled() -> None:
    kwargs = TOOL.validate('{"items": [{"sku": "a", "qty": "3"}], "size": "l"}')
    assert kwargs == {"items": [Item(sku="a", qty=3)], "size": Size.L, "note": None, "rush": False}
    assert isinstance(kwargs["items"][0], Item)


@pytest.mark.parametrize("text", ["{", '{"items": [', "not json", "{'a': 1}", '{"a": 1,}'])
def test_not_json(text: str) -> None:
    assert _error(text).startswith("the arguments are not valid JSON (")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("[]", "an array"),
        ("5", "a number"),
        ('""', "a string"),
        ("null", "null"),
        ("true", "a boolean"),
    ],
)
def test_not_an_object(text: str, kind: str) -> None:
    assert _error(text) == f"the arguments must be a JSON object, got {kind}"


def test_empty_text_reads_as_no_arguments() -> None:
    message = _error("")
    assert "- items: required, but missing" in message
    assert "- size: required, but missing" in message
    assert Tool(lambda: "x", name="noargs").validate("  ") == {}


def test_wrong_types_name_the_field_and_the_value() -> None:
    message = _error('{"items": [{"sku": 7}], "size": "xl", "rush": "maybe"}')
    lines = message.splitlines()
    assert lines[0] == "the arguments do not match the parameters of order:"
    assert "- items.0.sku: Input should be a valid string (got 7)" in lines
    assert "- size: Input should be 's' or 'l' (got 'xl')" in lines
    assert any(line.startswith("- rush: Input should be a valid boolean") for line in lines)


def test_extra_fields_are_refused_by_name() -> None:
    message = _error('{"items": [], "size": "s", "color": "red"}')
    assert "- color: not a parameter of this tool (it takes items, size, note, rush)" in message


def test_long_values_are_shortened_in_the_message() -> None:
    message = _error('{"items": [], "size": "' + "x" * 10_000 + '"}')
    assert len(message) < 400
    assert "..." in message


def test_megabytes_are_refused_before_parsing() -> None:
    huge = '{"items": [], "size": "s", "note": "' + "a" * 1_000_000 + '"}'
    message = _error(huge)
    assert "over the 1,000,000 this tool accepts" in message
    small = Tool(order, max_arguments_size=50)
    with pytest.raises(ToolArgumentsError, match="over the 50"):
        small.validate('{"items": [], "size": "s", "note": "' + "a" * 40 + '"}')


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(ToolArgumentsError):
        TOOL.validate('{"items": ' + "[" * 100_000 + "]" * 100_000 + "}")
