"""Tool schemas rendered the way the models see them, for counting.

OpenAI does not publish how ``tools`` are counted. The models see the functions as a
TypeScript-like namespace (this is what :func:`render_tools` writes); counting that text,
adding 9, and taking 4 off when a system message is present reproduces the counts the
API reported in OpenAI's cookbook (105 and 101 tokens for its weather example). For
other schemas it overcounts by a few tokens: descriptions at every depth and every
constraint (``default``, ``minimum``, ``pattern``...) are written as comments, and
``$ref`` targets are inlined at each use, so the count errs on the safe side.

>>> print(render_tools([{"type": "function", "function": {"name": "now", "description": "Time."}}]))
namespace functions {
<BLANKLINE>
// Time.
type now = () => any;
<BLANKLINE>
} // namespace functions
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["render_tools"]

# Keywords that shape the type itself; every other keyword with a value becomes a comment.
_STRUCTURAL = frozenset(
    {
        "type", "properties", "required", "items", "enum", "const", "anyOf", "oneOf", "allOf",
        "$ref", "$defs", "definitions", "description", "title", "additionalProperties",
        "$schema", "strict",
    }
)  # fmt: skip
_MAX_DEPTH = 16


def render_tools(tools: Sequence[Mapping[str, Any]]) -> str:
    """The ``namespace functions`` text for a ``tools`` list (non-function tools as JSON)."""
    lines = ["namespace functions {", ""]
    for tool in tools:
        function = tool.get("function") if tool.get("type", "function") == "function" else None
        if not isinstance(function, Mapping):
            lines.append(json.dumps(tool, ensure_ascii=False, sort_keys=True))
            lines.append("")
            continue
        lines.extend(_comment(function.get("description")))
        name = str(function.get("name", ""))
        params = function.get("parameters")
        if isinstance(params, Mapping) and params.get("properties"):
            renderer = _Renderer(params)
            lines.append(f"type {name} = (_: {{")
            lines.extend(renderer.properties(params, 0, ()))
            lines.append("}) => any;")
        else:
            lines.append(f"type {name} = () => any;")
        lines.append("")
    lines.append("} // namespace functions")
    return "\n".join(lines)


def _comment(text: Any, indent: str = "") -> list[str]:
    if not text:
        return []
    return [f"{indent}// {line}" for line in str(text).splitlines() or [""]]


class _Renderer:
    """Renders one function's parameter schema, resolving ``$ref`` against its ``$defs``."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self._root = root

    def properties(self, schema: Mapping[str, Any], depth: int, seen: tuple[str, ...]) -> list[str]:
        indent = "  " * depth
        required = schema.get("required") or ()
        lines: list[str] = []
        for key, prop in (schema.get("properties") or {}).items():
            prop = prop if isinstance(prop, Mapping) else {}
            resolved, _ = self._resolve(prop, seen)
            lines.extend(_comment(prop.get("description") or resolved.get("description"), indent))
            lines.extend(_comment(_constraints(resolved), indent))
            mark = "" if key in required else "?"
            lines.append(f"{indent}{key}{mark}: {self.type(prop, depth, seen)},")
        return lines

    def type(self, schema: Any, depth: int, seen: tuple[str, ...]) -> str:
        if not isinstance(schema, Mapping) or depth > _MAX_DEPTH:
            return "any"
        schema, seen = self._resolve(schema, seen)
        if "const" in schema:
            return _literal(schema["const"])
        if isinstance(schema.get("enum"), list):
            return " | ".join(_literal(v) for v in schema["enum"]) or "never"
        for key in ("anyOf", "oneOf", "allOf"):
            if isinstance(schema.get(key), list):
                sep = " & " if key == "allOf" else " | "
                return sep.join(self.type(s, depth, seen) for s in schema[key]) or "any"
        kind = schema.get("type")
        if isinstance(kind, list):
            return " | ".join(self._simple(k, schema, depth, seen) for k in kind) or "any"
        return self._simple(kind, schema, depth, seen)

    def _simple(
        self, kind: Any, schema: Mapping[str, Any], depth: int, seen: tuple[str, ...]
    ) -> str:
        if kind == "array":
            items = schema.get("items")
            return f"{self.type(items, depth, seen)}[]" if items is not None else "any[]"
        if kind == "object" or (kind is None and "properties" in schema):
            if not schema.get("properties"):
                return "object"
            inner = self.properties(schema, depth + 1, seen)
            return "\n".join(["{", *inner, "  " * depth + "}"])
        if kind in ("integer", "number"):
            return "number"
        if kind in ("string", "boolean", "null"):
            return str(kind)
        return "any"

    def _resolve(
        self, schema: Mapping[str, Any], seen: tuple[str, ...]
    ) -> tuple[Mapping[str, Any], tuple[str, ...]]:
        """Follow local ``$ref`` chains; a cycle or a foreign ref resolves to ``{}`` (any)."""
        while isinstance(ref := schema.get("$ref"), str):
            if ref in seen or not ref.startswith("#/"):
                return {}, seen
            seen = (*seen, ref)
            target: Any = self._root
            for part in ref[2:].split("/"):
                target = target.get(part) if isinstance(target, Mapping) else None
            if not isinstance(target, Mapping):
                return {}, seen
            schema = target
        return schema, seen


def _constraints(schema: Mapping[str, Any]) -> str:
    extra = {k: v for k, v in schema.items() if k not in _STRUCTURAL and v is not None}
    return ", ".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in extra.items())


def _literal(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
