"""strict_schema: the shape OpenAI's strict structured outputs accept, at every depth."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from convo.errors import ParameterError
from convo.tools import strict_schema


class Status(enum.Enum):
    OPEN = "open"
    DONE = "done"


class Line(BaseModel):
    sku: str = Field(description="Stock code.")
    qty: int = Field(default=1, ge=1)


class Address(BaseModel):
    street: str
    zip: str | None = None


class Order(BaseModel):
    """A customer order."""

    id: int
    status: Status
    kind: Literal["web", "shop"]
    lines: list[Line]
    ship_to: Address | None = None
    bill_to: Address = Field(description="Billing address.")
    note: str = Field(default="", max_length=200)


class Node(BaseModel):
    value: int
    children: list[Node] = []


def _objects(schema: Any) -> list[dict[str, Any]]:
    """Every object schema anywhere in ``schema``."""
    found = []
    if isinstance(schema, dict):
        if schema.get("type") == "object":
            found.append(schema)
        for value in schema.values():
            found.extend(_objects(value))
    elif isinstance(schema, list):
        for value in schema:
            found.extend(_objects(value))
    return found


def _keys(schema: Any) -> set[str]:
    keys: set[str] = set()
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key not in ("properties", "$defs"):
                keys.add(key)
                keys |= _keys(value)
            else:
                for sub in value.values():
                    keys |= _keys(sub)
    elif isinstance(schema, list):
        for value in schema:
            keys |= _keys(value)
    return keys


def test_every_object_requires_all_and_forbids_extra() -> None:
    s = strict_schema(Order)
    objects = _objects(s)
    assert len(objects) == 4  # Order, Line, Address, and Address inlined as bill_to
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert obj["required"] == list(obj["properties"])


def test_optional_fields_are_nullable_and_defs_are_kept() -> None:
    s = strict_schema(Order)
    assert s["properties"]["ship_to"] == {"anyOf": [{"$ref": "#/$defs/Address"}, {"type": "null"}]}
    assert s["$defs"]["Address"]["properties"]["zip"] == {
        "anyOf": [{"type": "string"}, {"type": "null"}]
    }
    assert s["properties"]["lines"] == {"items": {"$ref": "#/$defs/Line"}, "type": "array"}
    assert set(s["$defs"]) == {"Address", "Line", "Status"}


def test_enums_literals_and_descriptions() -> None:
    s = strict_schema(Order)
    assert s["$defs"]["Status"] == {"enum": ["open", "done"], "type": "string"}
    assert s["properties"]["kind"] == {"enum": ["web", "shop"], "type": "string"}
    assert s["description"] == "A customer order."
    assert s["$defs"]["Line"]["properties"]["sku"] == {
        "description": "Stock code.",
        "type": "string",
    }


def test_ref_with_siblings_is_inlined() -> None:
    bill_to = strict_schema(Order)["properties"]["bill_to"]
    assert "$ref" not in bill_to
    assert bill_to["description"] == "Billing address."
    assert bill_to["required"] == ["street", "zip"]
    assert bill_to["additionalProperties"] is False


def test_defaults_become_required_and_are_described() -> None:
    s = strict_schema(Order)
    assert s["properties"]["note"] == {"description": 'Default: "".', "type": "string"}
    assert s["$defs"]["Line"]["properties"]["qty"] == {
        "description": "Default: 1.",
        "minimum": 1,
        "type": "integer",
    }


def test_unsupported_keywords_are_dropped() -> None:
    keys = _keys(strict_schema(Order))
    assert not keys & {"title", "default", "maxLength", "const", "oneOf", "allOf"}


def test_recursive_model() -> None:
    s = strict_schema(Node)
    assert s["type"] == "object"
    assert s["properties"]["children"] == {
        "description": "Default: [].",
        "items": {"$ref": "#/$defs/Node"},
        "type": "array",
    }
    assert s["$defs"]["Node"]["required"] == ["value", "children"]


def test_dataclass_and_typeddict() -> None:
    @dataclasses.dataclass
    class Point:
        x: float
        y: float = 0.0

    class Movie(TypedDict, total=False):
        title: str

    assert strict_schema(Point)["required"] == ["x", "y"]
    movie = strict_schema(Movie)
    assert movie["required"] == ["title"]
    assert movie["additionalProperties"] is False


def test_raw_dict_is_copied_not_changed() -> None:
    raw: dict[str, Any] = {
        "type": "object",
        "title": "Pet",
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "kind": {"const": "dog"},
            "age": {"oneOf": [{"type": "integer"}, {"type": "null"}]},
        },
        "required": ["name"],
    }
    before = repr(raw)
    s = strict_schema(raw)
    assert repr(raw) == before
    assert s == {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "kind": {"enum": ["dog"]},
            "age": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        },
        "required": ["name", "kind", "age"],
        "additionalProperties": False,
    }


def test_a_property_named_title_survives() -> None:
    class Book(BaseModel):
        title: str

    assert strict_schema(Book)["properties"] == {"title": {"type": "string"}}


def test_supported_formats_kept_others_dropped() -> None:
    s = strict_schema(
        {
            "type": "object",
            "properties": {
                "at": {"type": "string", "format": "date-time"},
                "url": {"type": "string", "format": "uri"},
            },
        }
    )
    assert s["properties"]["at"]["format"] == "date-time"
    assert "format" not in s["properties"]["url"]


class Bag(BaseModel):
    counts: dict[str, int]


class Loose(BaseModel):
    data: Any


class Pair(BaseModel):
    pair: tuple[int, str]


@pytest.mark.parametrize(
    ("model", "where", "what"),
    [
        (Bag, "properties.counts", "free keys"),
        (Loose, "properties.data", "any type"),
        (Pair, "properties.pair", "tuples"),
        (list[int], "", "root of the schema must be an object"),
    ],
)
def test_what_cannot_be_strict_says_where(model: Any, where: str, what: str) -> None:
    with pytest.raises(ParameterError, match=what) as info:
        strict_schema(model)
    assert (f"at {where}:" in str(info.value)) if where else "at " not in str(info.value)
    assert info.value.param == "response_format"


def test_bad_ref_is_an_error() -> None:
    with pytest.raises(ParameterError, match="cannot resolve"):
        strict_schema(
            {"type": "object", "properties": {"a": {"$ref": "#/nope", "description": "x"}}}
        )
