"""JSON schemas from Python types: one path for tool parameters and structured output.

Everything goes through pydantic's public API: :func:`pydantic.create_model` turns a
function's signature into a model, :class:`pydantic.TypeAdapter` turns a type into a
schema. :func:`strict_schema` then rewrites a schema into the subset that OpenAI's
structured outputs accept.

>>> from pydantic import BaseModel
>>> class City(BaseModel):
...     name: str
...     population: int | None = None
>>> s = strict_schema(City)
>>> s["required"], s["additionalProperties"]
(['name', 'population'], False)
>>> s["properties"]["population"]
{'anyOf': [{'type': 'integer'}, {'type': 'null'}]}
"""

from __future__ import annotations

import copy
import inspect
import json
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any, get_origin

from pydantic import BaseModel, ConfigDict, Field, PydanticUserError, TypeAdapter, create_model
from pydantic.fields import FieldInfo

from convo.errors import ParameterError, ToolDefinitionError

__all__ = ["closed", "function_model", "json_schema", "strict_schema", "tidy"]

Schema = dict[str, Any]

# Keywords whose value is one sub-schema, a list of them, or a name -> sub-schema map.
_ONE = ("items", "additionalProperties", "not", "if", "then", "else", "contains")
_MANY = ("anyOf", "oneOf", "allOf", "prefixItems")
_MAPS = ("properties", "$defs", "definitions", "patternProperties")

# What OpenAI's strict mode documents as supported; every other keyword is dropped
# (pydantic still enforces the dropped constraints when the reply is validated).
_STRICT_KEYWORDS = frozenset(
    {
        "type", "description", "enum", "anyOf", "$ref", "$defs", "items", "properties",
        "required", "additionalProperties", "pattern", "format", "multipleOf", "minimum",
        "maximum", "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems",
    }
)  # fmt: skip
_STRICT_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}
)


def json_schema(tp: Any) -> Schema:
    """The JSON schema of a type (a pydantic model, dataclass, TypedDict, ``list[int]``...).

    >>> json_schema(list[int])
    {'items': {'type': 'integer'}, 'type': 'array'}
    """
    try:
        return TypeAdapter(tp).json_schema()
    except PydanticUserError as exc:
        raise ParameterError(
            f"cannot build a JSON schema for {tp!r}: {exc}", param="response_format"
        ) from None


def tidy(schema: Schema) -> Schema:
    """A copy of ``schema`` without ``title`` keywords: pydantic's titles only echo names.

    >>> tidy({"title": "P", "type": "object", "properties": {"title": {"title": "T"}}})
    {'type': 'object', 'properties': {'title': {}}}
    """
    out: Schema = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        out[key] = _map_sub(key, value, tidy)
    return out


def closed(schema: Schema) -> Schema:
    """A copy of ``schema`` where every object with ``properties`` and no word on extra
    keys says ``additionalProperties: false``, as tool arguments are validated.

    >>> closed({"type": "object", "properties": {"a": {"type": "object", "properties": {}}}})
    {'type': 'object', 'properties': {'a': {'type': 'object', 'properties': {}, \
'additionalProperties': False}}, 'additionalProperties': False}
    """
    out: Schema = {key: _map_sub(key, value, closed) for key, value in schema.items()}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def _map_sub(key: str, value: Any, fn: Callable[[Schema], Schema]) -> Any:
    if key in _ONE and isinstance(value, dict):
        return fn(value)
    if key in _MANY and isinstance(value, list):
        return [fn(v) if isinstance(v, dict) else v for v in value]
    if key in _MAPS and isinstance(value, dict):
        return {k: fn(v) if isinstance(v, dict) else v for k, v in value.items()}
    return value


# -- functions -----------------------------------------------------------------------


def function_model(
    fn: Callable[..., Any], *, name: str, descriptions: Mapping[str, str]
) -> tuple[type[BaseModel], tuple[str, ...]]:
    """A pydantic model of ``fn``'s parameters, and the parameter names in field order.

    Fields get private names (``p0``, ``p1``...) with the parameter name as alias, so a
    parameter may be called ``json``, ``schema`` or ``model_config`` without shadowing
    ``BaseModel``. Extra fields are forbidden. ``descriptions`` (from the docstring)
    fill in parameters that have no ``Field(description=...)`` of their own.
    """
    try:
        signature = inspect.signature(fn)
        hints = _hints(fn)
    except (NameError, TypeError) as exc:
        raise ToolDefinitionError(
            f"cannot read the type hints ({exc}); define the types at module level", tool=name
        ) from None
    fields: dict[str, Any] = {}
    names: list[str] = []
    for i, param in enumerate(signature.parameters.values()):
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ToolDefinitionError(
                f"parameter {param.name!r}: *args and **kwargs cannot be described to a model",
                tool=name,
            )
        if param.kind is param.POSITIONAL_ONLY:
            raise ToolDefinitionError(
                f"parameter {param.name!r} is positional-only; tools are called by keyword",
                tool=name,
            )
        default = ... if param.default is param.empty else param.default
        hint = hints.get(param.name, Any)
        doc = descriptions.get(param.name)
        description = doc if doc and not _described(hint) else None
        info = Field(default, alias=param.name)
        if description:  # set only when given: a None would hide an Annotated description
            info = Field(default, alias=param.name, description=description)
        fields[f"p{i}"] = (hint, info)
        names.append(param.name)
    try:
        model = create_model(f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
        model.model_json_schema()  # fail here, at definition, not at the first call
    except PydanticUserError as exc:
        raise ToolDefinitionError(f"unsupported parameter type: {exc}", tool=name) from None
    return model, tuple(names)


def _described(hint: Any) -> bool:
    metadata = getattr(hint, "__metadata__", ()) if get_origin(hint) is Annotated else ()
    return any(isinstance(m, FieldInfo) and m.description for m in metadata)


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    # get_type_hints reads functions and methods only: look through a partial's .func
    # and a callable object's __call__.
    call = inspect.getattr_static(type(fn), "__call__", None)
    for target in (fn, getattr(fn, "func", None), call):
        if inspect.isfunction(target) or inspect.ismethod(target):
            return typing.get_type_hints(target, include_extras=True)
    return {}


# -- strict mode ---------------------------------------------------------------------


def strict_schema(model_or_schema: Any) -> Schema:
    """The schema in the form OpenAI's strict structured outputs accept.

    Takes a type (pydantic model, dataclass, TypedDict) or a JSON schema dict (not
    changed). In the result every object lists all its properties as ``required`` and
    has ``additionalProperties: false``; optional (``X | None``) fields stay nullable;
    a field with a non-null default becomes required and its description says the
    default; ``const`` becomes a one-value ``enum``, ``oneOf`` becomes ``anyOf``;
    ``$defs`` and ``$ref`` are kept (a ``$ref`` with sibling keywords is inlined);
    unsupported keywords (``title``, ``default``, ``minLength``...) are dropped.
    Maps with free keys, values of any type and tuples cannot be strict: they raise
    :class:`~convo.errors.ParameterError` naming the place.

    >>> strict_schema({"type": "object", "properties": {"tag": {"const": "a"}}})
    {'type': 'object', 'properties': {'tag': {'enum': ['a']}}, 'required': ['tag'], \
'additionalProperties': False}
    """
    if isinstance(model_or_schema, Mapping):
        schema: Schema = copy.deepcopy(dict(model_or_schema))
    else:
        schema = json_schema(model_or_schema)
    return _Strict(schema).root()


class _Strict:
    def __init__(self, root: Schema) -> None:
        self._root = root
        defs = root.get("$defs", {})
        self._defs: dict[str, Any] = defs if isinstance(defs, dict) else {}
        self._inlining: set[str] = set()

    def root(self) -> Schema:
        root = dict(self._root)
        if "$ref" in root:  # a recursive root model: pydantic puts it in $defs
            root = {**self._resolve(root.pop("$ref"), "$ref"), **root}
        out = self.node(root, "")
        if out.get("type") != "object":
            raise _strict_error("", "the root of the schema must be an object")
        if self._defs:
            out["$defs"] = {k: self.node(v, f"$defs.{k}") for k, v in self._defs.items()}
        return out

    def node(self, schema: Any, path: str) -> Schema:
        if not isinstance(schema, dict):
            raise _strict_error(path, f"{schema!r} is not a schema object")
        s = dict(schema)
        if "const" in s:
            s.setdefault("enum", [s.pop("const")])
        if "oneOf" in s:
            s["anyOf"] = [*s.get("anyOf", ()), *s.pop("oneOf")]
        if "allOf" in s:
            parts = s.pop("allOf")
            if len(parts) != 1:
                raise _strict_error(path, "allOf with several schemas is not supported")
            s = {**parts[0], **s}
        if "$ref" in s and set(s) - {"$ref", "title", "default"}:
            return self._inline(s, path)
        if "prefixItems" in s:
            raise _strict_error(path, "tuples are not supported; use a list or a model")
        types = s.get("type")
        is_object = types == "object" or (isinstance(types, list) and "object" in types)
        out: Schema = {}
        for key, value in s.items():
            if key not in _STRICT_KEYWORDS or key in ("$defs", "required"):
                continue
            if key == "format" and value not in _STRICT_FORMATS:
                continue
            if key == "anyOf":
                out[key] = [self.node(v, f"{path}.anyOf.{i}") for i, v in enumerate(value)]
            elif key == "items":
                out[key] = self.node(value, f"{path}.items")
            elif key == "properties":
                out[key] = self._properties(value, set(s.get("required", ())), path)
            elif key != "additionalProperties":
                out[key] = value
        if is_object or "properties" in s:
            self._close(s, out, path)
        if not {"type", "enum", "anyOf", "$ref"} & set(out):
            raise _strict_error(path, "a value of any type cannot be expressed in strict mode")
        return out

    def _properties(self, props: dict[str, Any], required: set[str], path: str) -> Schema:
        out: Schema = {}
        for name, sub in props.items():
            where = f"{path}.properties.{name}".lstrip(".")
            if name not in required and isinstance(sub, dict) and not _nullable(sub):
                default = sub.get("default")
                if default is not None:
                    note = f"Default: {json.dumps(default, ensure_ascii=False)}."
                    text = sub.get("description")
                    sub = {**sub, "description": f"{text} {note}" if text else note}
            out[name] = self.node(sub, where)
        return out

    def _close(self, s: Schema, out: Schema, path: str) -> None:
        extra = s.get("additionalProperties", False)
        if "properties" not in s or (extra is not False and extra != {}):
            raise _strict_error(
                path, "an object with free keys (a dict) cannot be strict; use a model"
            )
        out["type"] = s.get("type", "object")
        out.setdefault("properties", {})
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False

    def _inline(self, s: Schema, path: str) -> Schema:
        ref = s["$ref"]
        if ref in self._inlining:  # recursion: keep the plain reference
            return {"$ref": ref}
        rest = {k: v for k, v in s.items() if k != "$ref"}
        self._inlining.add(ref)
        try:
            return self.node({**self._resolve(ref, path), **rest}, path)
        finally:
            self._inlining.discard(ref)

    def _resolve(self, ref: Any, path: str) -> Schema:
        prefix = "#/$defs/"
        target = self._defs.get(ref[len(prefix) :]) if isinstance(ref, str) else None
        if not (isinstance(ref, str) and ref.startswith(prefix) and isinstance(target, dict)):
            raise _strict_error(path, f"cannot resolve $ref {ref!r}; only #/$defs/... is")
        return target


def _nullable(s: Schema) -> bool:
    types = s.get("type")
    if types == "null" or (isinstance(types, list) and "null" in types):
        return True
    return any(isinstance(b, dict) and _nullable(b) for b in s.get("anyOf", ()))


def _strict_error(path: str, message: str) -> ParameterError:
    where = f" at {path.lstrip('.')}" if path.strip(".") else ""
    return ParameterError(f"strict schema{where}: {message}", param="response_format")
