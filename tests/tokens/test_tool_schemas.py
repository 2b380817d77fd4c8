"""The namespace rendering of tool schemas that tool counts are based on."""

from __future__ import annotations

import doctest
from typing import Any

import pytest

import convo.budget
import convo.tokens
import convo.tokens.counting
import convo.tokens.encodings
import convo.tokens.schemas
from convo.tokens.schemas import render_tools


def _tool(parameters: dict[str, Any] | None, description: str | None = "Do it.") -> dict[str, Any]:
    function: dict[str, Any] = {"name": "act"}
    if description is not None:
        function["description"] = description
    if parameters is not None:
        function["parameters"] = parameters
    return {"type": "function", "function": function}


def test_the_cookbook_tool_renders_as_the_models_see_it() -> None:
    tool = _tool(
        {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city and state"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
        },
        "Get the weather",
    )
    assert render_tools([tool]) == (
        "namespace functions {\n\n"
        "// Get the weather\n"
        "type act = (_: {\n"
        "// The city and state\n"
        "location: string,\n"
        'unit?: "celsius" | "fahrenheit",\n'
        "}) => any;\n\n"
        "} // namespace functions"
    )


def test_no_parameters() -> None:
    assert "type act = () => any;" in render_tools([_tool(None, None)])
    assert "type act = () => any;" in render_tools([_tool({"type": "object", "properties": {}})])


def test_nested_objects_arrays_unions_and_constraints() -> None:
    text = render_tools(
        [
            _tool(
                {
                    "type": "object",
                    "properties": {
                        "who": {
                            "type": "object",
                            "description": "The person",
                            "properties": {
                                "name": {"type": "string", "description": "Full name"},
                                "age": {"type": "integer", "minimum": 0, "maximum": 150},
                            },
                            "required": ["name"],
                        },
                        "tags": {"type": "array", "items": {"type": "string"}},
                        "size": {"anyOf": [{"type": "number"}, {"type": "null"}]},
                        "mode": {"type": ["string", "null"], "default": "fast"},
                        "level": {"enum": [1, 2, 3]},
                        "kind": {"const": "x"},
                    },
                }
            )
        ]
    )
    assert "// The person\nwho?: {\n  // Full name\n  name: string,\n" in text
    assert "  // minimum: 0, maximum: 150\n  age?: number,\n}," in text
    assert "tags?: string[]," in text
    assert "size?: number | null," in text
    assert '// default: "fast"\nmode?: string | null,' in text
    assert "level?: 1 | 2 | 3," in text
    assert 'kind?: "x",' in text


def test_refs_are_inlined_and_cycles_end() -> None:
    schema = {
        "type": "object",
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "value": {"type": "integer"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                    "left": {"$ref": "#/$defs/Node"},
                    "right": {"$ref": "#/$defs/Node"},
                },
            },
            "Colour": {"enum": ["red", "green"]},
        },
        "properties": {
            "root": {"$ref": "#/$defs/Node"},
            "colour": {"$ref": "#/$defs/Colour"},
            "elsewhere": {"$ref": "urn:example:schema"},
        },
    }
    text = render_tools([_tool(schema)])
    assert "value?: number," in text
    assert "children?: any[]," in text
    assert "left?: any," in text
    assert 'colour?: "red" | "green",' in text
    assert "elsewhere?: any," in text
    assert len(text) < 1000  # a recursive schema is rendered once, not unrolled


def test_non_function_tools_are_counted_as_their_json() -> None:
    text = render_tools([{"type": "custom", "custom": {"name": "grammar", "format": "lark"}}])
    assert '"name": "grammar"' in text


def test_multiline_descriptions_stay_comments() -> None:
    text = render_tools([_tool(None, "First line.\nSecond line.")])
    assert "// First line.\n// Second line.\n" in text


@pytest.mark.parametrize(
    "module",
    [
        convo.tokens,
        convo.tokens.counting,
        convo.tokens.encodings,
        convo.tokens.schemas,
        convo.budget,
    ],
)
def test_docstring_examples(module: Any) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0
