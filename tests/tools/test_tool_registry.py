"""ToolRegistry and as_registry: exact names, no duplicates, cached schemas."""

from __future__ import annotations

import pytest

from convo.errors import ParameterError, ToolDefinitionError, ToolNotFoundError
from convo.tools import Tool, ToolRegistry, as_registry, tool


def alpha(x: int) -> int:
    """Alpha."""
    return x


def beta() -> str:
    """Beta."""
    return "b"


def test_add_functions_and_tools_and_decorate() -> None:
    registry = ToolRegistry([alpha])
    registry.add(Tool(beta, name="Beta"))

    @registry.add
    def gamma() -> None:
        """Gamma."""

    assert isinstance(gamma, Tool)
    assert registry.names() == ("alpha", "Beta", "gamma")
    assert len(registry) == 3
    assert [t.name for t in registry] == ["alpha", "Beta", "gamma"]
    assert registry.get("alpha") is not None
    assert registry.get("alpha")(3) == 3  # type: ignore[misc]


def test_lookup_is_exact() -> None:
    registry = ToolRegistry([alpha])
    assert "alpha" in registry
    for other in ("ALPHA", "Alpha", "alpha ", " alpha", "alph"):
        assert other not in registry
        assert registry.get(other) is None


def test_get_or_raise() -> None:
    registry = ToolRegistry([alpha, beta])
    assert registry.get_or_raise("beta").name == "beta"
    with pytest.raises(ToolNotFoundError, match="no tool named 'Beta'; the tools are: alpha, beta"):
        registry.get_or_raise("Beta")


def test_duplicate_names_are_refused_but_the_same_tool_is_a_no_op() -> None:
    t = tool(alpha)
    registry = ToolRegistry([t])
    registry.add(t)
    assert len(registry) == 1
    with pytest.raises(ToolDefinitionError, match="'alpha': a tool with this name is already"):
        registry.add(alpha)
    with pytest.raises(ToolDefinitionError):
        ToolRegistry([Tool(beta, name="x"), Tool(alpha, name="x")])


def test_schemas_are_cached_and_invalidated_on_add() -> None:
    registry = ToolRegistry([alpha])
    first = registry.schemas()
    assert first is registry.schemas()
    assert [s["function"]["name"] for s in first] == ["alpha"]
    registry.add(beta)
    second = registry.schemas()
    assert [s["function"]["name"] for s in second] == ["alpha", "beta"]
    assert second is registry.schemas()


def test_merge_and_union_make_new_registries() -> None:
    left = ToolRegistry([alpha])
    right = ToolRegistry([beta])
    merged = left | right
    assert merged.names() == ("alpha", "beta")
    assert left.names() == ("alpha",)
    assert left.merge([beta], ToolRegistry()).names() == ("alpha", "beta")
    with pytest.raises(ToolDefinitionError):
        left.merge(ToolRegistry([Tool(beta, name="alpha")]))


def test_as_registry_accepts_what_conversation_accepts() -> None:
    shared = ToolRegistry([alpha])
    assert as_registry(shared) is shared
    assert len(as_registry(None)) == 0
    assert not as_registry(None)
    assert as_registry(alpha).names() == ("alpha",)
    assert as_registry([tool(beta), shared]).names() == ("beta", "alpha")
    assert as_registry(f for f in [alpha]).names() == ("alpha",)


@pytest.mark.parametrize("bad", ["alpha", 5, [alpha, "beta"], [None]])
def test_as_registry_refuses_other_things(bad: object) -> None:
    with pytest.raises(ParameterError, match="tools"):
        as_registry(bad)


def test_repr() -> None:
    assert repr(ToolRegistry([alpha])) == "ToolRegistry(['alpha'])"
    assert repr(tool(alpha)) == "Tool('alpha')"
