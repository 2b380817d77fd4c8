"""@tool: names, descriptions and parameter schemas from typed functions."""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field

from convo.errors import InputError, ToolDefinitionError
from convo.tools import Tool, tool


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Place(BaseModel):
    city: str
    country: str | None = None


def test_bare_decorator_takes_name_summary_and_google_arg_descriptions() -> None:
    @tool
    def get_weather(city: str, unit: Unit = Unit.CELSIUS) -> str:
        """Get the current weather.

        Only cities are supported.

        Args:
            city: The city name, e.g. Paris.
            unit: The temperature unit.
        """
        return f"{city}: 20 {unit.value}"

    assert isinstance(get_weather, Tool)
    assert get_weather.name == "get_weather"
    assert get_weather.description == "Get the current weather.\n\nOnly cities are supported."
    params = get_weather.parameters
    assert params["properties"]["city"] == {
        "description": "The city name, e.g. Paris.",
        "type": "string",
    }
    unit = params["properties"]["unit"]
    assert unit["description"] == "The temperature unit."
    assert unit["default"] == "celsius"
    assert params["$defs"]["Unit"] == {"enum": ["celsius", "fahrenheit"], "type": "string"}
    assert params["required"] == ["city"]
    assert params["additionalProperties"] is False
    assert get_weather("Oslo") == "Oslo: 20 celsius"  # still the function


@pytest.mark.parametrize(
    "doc",
    [
        "Look up.\n\n:param query: What to find.\n:param limit: How many.",
        "Look up.\n\nParameters\n----------\nquery : str\n    What to find.\n"
        "limit : int\n    How many.",
    ],
    ids=["rest", "numpy"],
)
def test_rest_and_numpy_docstrings(doc: str) -> None:
    def lookup(query: str, limit: int = 3) -> list[str]:
        return []

    lookup.__doc__ = doc
    t = Tool(lookup)
    assert t.description == "Look up."
    assert t.parameters["properties"]["query"]["description"] == "What to find."
    assert t.parameters["properties"]["limit"]["description"] == "How many."


def test_types_optional_lists_nested_literal_defaults() -> None:
    @tool
    def plan(
        places: list[Place],
        mode: Literal["walk", "drive"] = "walk",
        budget: float | None = None,
        tags: Annotated[list[str], Field(description="Labels.")] = [],  # noqa: B006
    ) -> None:
        """Plan a trip."""

    p = plan.parameters
    assert p["required"] == ["places"]
    assert p["properties"]["places"] == {"items": {"$ref": "#/$defs/Place"}, "type": "array"}
    assert p["$defs"]["Place"]["properties"]["country"] == {
        "anyOf": [{"type": "string"}, {"type": "null"}],
        "default": None,
    }
    assert p["properties"]["mode"] == {
        "default": "walk",
        "enum": ["walk", "drive"],
        "type": "string",
    }
    assert p["properties"]["budget"]["anyOf"] == [{"type": "number"}, {"type": "null"}]
    assert p["properties"]["tags"]["description"] == "Labels."
    assert "title" not in p and "title" not in p["properties"]["places"]


def test_schema_is_the_api_shape_and_computed_once() -> None:
    @tool(name="find-notes", description="Search my notes.", timeout=2.5)
    async def search(query: str) -> list[str]:
        return []

    assert search.schema == {
        "type": "function",
        "function": {
            "name": "find-notes",
            "description": "Search my notes.",
            "parameters": {
                "additionalProperties": False,
                "properties": {"query": {"type": "string"}},
                "required": ["query"],
                "type": "object",
            },
        },
    }
    assert search.schema is search.schema
    assert search.is_async and search.timeout == 2.5


def test_no_docstring_means_no_description_key() -> None:
    def ping() -> str:
        return "pong"

    t = Tool(ping)
    assert t.description == ""
    assert "description" not in t.schema["function"]
    assert t.parameters == {"additionalProperties": False, "properties": {}, "type": "object"}


def test_parameters_named_like_basemodel_attributes() -> None:
    def fetch(json: str, schema: str, model_config: int = 0) -> str:
        return json + schema

    t = Tool(fetch)
    assert list(t.parameters["properties"]) == ["json", "schema", "model_config"]
    assert t.validate('{"json": "a", "schema": "b"}') == {
        "json": "a",
        "schema": "b",
        "model_config": 0,
    }


def test_untyped_parameter_accepts_anything() -> None:
    def echo(value):  # type: ignore[no-untyped-def]
        return value

    t = Tool(echo)
    assert t.validate('{"value": [1, {"a": null}]}') == {"value": [1, {"a": None}]}


def test_async_callable_object_is_async() -> None:
    class Fetcher:
        __name__ = "fetcher"

        async def __call__(self, url: str) -> str:
            return url

    assert Tool(Fetcher()).is_async


@pytest.mark.parametrize("name", ["", "has space", "a" * 65, "dot.ted", "ünï"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(ToolDefinitionError, match="must be 1 to 64"):
        Tool(lambda: None, name=name)


def test_lambda_needs_a_name() -> None:
    with pytest.raises(ToolDefinitionError, match="<lambda>"):
        Tool(lambda: None)
    assert Tool(lambda: 1, name="one")() == 1


def test_var_args_positional_only_and_bad_timeout_are_refused() -> None:
    def star(*items: int) -> None: ...

    def kw(**options: Any) -> None: ...

    def pos(a: int, /) -> None: ...

    with pytest.raises(ToolDefinitionError, match="items"):
        Tool(star)
    with pytest.raises(ToolDefinitionError, match="options"):
        Tool(kw)
    with pytest.raises(ToolDefinitionError, match="positional-only"):
        Tool(pos)
    with pytest.raises(ToolDefinitionError, match="timeout"):
        Tool(kw, name="x", timeout=0)
    assert issubclass(ToolDefinitionError, InputError)


def test_unresolvable_annotation_is_a_clear_error() -> None:
    def f(x: NotDefinedAnywhere) -> None: ...  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(ToolDefinitionError, match="type hints"):
        Tool(f)


def test_not_callable_is_refused() -> None:
    with pytest.raises(ToolDefinitionError, match="not int"):
        Tool(5)  # type: ignore[arg-type]


def test_field_description_wins_over_the_docstring() -> None:
    def f(x: Annotated[int, Field(description="From the type.")], y: int = 0) -> None:
        """F.

        Args:
            x: From the docstring.
            y: Also from the docstring.
        """

    props = Tool(f).parameters["properties"]
    assert props["x"]["description"] == "From the type."
    assert props["y"]["description"] == "Also from the docstring."
