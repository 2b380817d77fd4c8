"""Structured output: ask for a type, get back a validated instance of it.

:func:`output_spec` turns what ``response_format=`` accepts into an :class:`OutputSpec`,
which knows what to add to the request in each mode, how to parse and validate the
reply, what to tell the model when the reply does not validate, and how to read a
partial object out of JSON that is still arriving.

>>> from pydantic import BaseModel
>>> from convo.messages import Message
>>> class City(BaseModel):
...     name: str
...     population: int
>>> spec = output_spec(City)
>>> spec.parse(Message.assistant('{"name": "Paris", "population": 2100000}'), "stop")
City(name='Paris', population=2100000)
>>> spec.partial('{"name": "Paris", "popul')
{'name': 'Paris'}
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

import pydantic
import pydantic_core
from pydantic import TypeAdapter

from convo.errors import ParameterError, ParseError, RefusalError, TruncatedError
from convo.messages import FEEDBACK_NAME, Message
from convo.tools.schema import strict_schema

__all__ = ["Mode", "OutputSpec", "output_spec"]

Mode = Literal["json_schema", "json_object", "tools"]
_MODES = ("json_schema", "json_object", "tools")
_API_TYPES = ("json_object", "json_schema")
_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_-]+")
_FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*\n(.*?)\n?```\s*$", re.DOTALL)
_NUMBER_CHARS = "0123456789.eE+-"
_OPEN_FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*\n")
_SHOWN_ERRORS = 20  # validation errors listed back to the model


class OutputSpec:
    """What the reply must be, and how to get it there.

    Build it with :func:`output_spec`. ``model`` is the requested type (``None`` for
    a dict schema), ``schema`` the strict JSON schema sent (``None`` for the API's own
    ``response_format`` forms, which are sent unchanged).
    """

    def __init__(
        self,
        *,
        name: str,
        schema: dict[str, Any] | None,
        model: Any = None,
        description: str | None = None,
        passthrough: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.schema = schema
        self.model = model
        self.description = description
        self._passthrough = passthrough
        self._adapter: TypeAdapter[Any] | None = TypeAdapter(model) if model is not None else None

    def __repr__(self) -> str:
        return f"OutputSpec({self.name!r})"

    # -- the request -----------------------------------------------------------------

    def request_params(self, mode: Mode) -> dict[str, Any]:
        """What to merge into the request body for ``mode``.

        ``json_schema``: a strict ``response_format``; ``json_object``: JSON mode (the
        schema goes into :meth:`instructions`); ``tools``: one function whose parameters
        are the schema, forced through ``tool_choice``. The API's own forms are sent
        unchanged whatever the mode.
        """
        _check_mode(mode)
        if self._passthrough is not None:
            return {"response_format": self._passthrough}
        if mode == "json_object":
            return {"response_format": {"type": "json_object"}}
        if mode == "tools":
            function: dict[str, Any] = {"name": self.name, "parameters": self.schema}
            if self.description:
                function["description"] = self.description
            return {
                "tools": [{"type": "function", "function": function}],
                "tool_choice": {"type": "function", "function": {"name": self.name}},
            }
        json_schema: dict[str, Any] = {"name": self.name, "schema": self.schema, "strict": True}
        if self.description:
            json_schema["description"] = self.description
        return {"response_format": {"type": "json_schema", "json_schema": json_schema}}

    def instructions(self, mode: Mode) -> str | None:
        """The system text for ``json_object`` mode (the schema to follow); else ``None``."""
        _check_mode(mode)
        if mode != "json_object" or self._passthrough is not None:
            return None
        schema = json.dumps(self.schema, ensure_ascii=False, separators=(",", ":"))
        return (
            "Answer with one JSON object and nothing else: no prose, no code fence. "
            f"It must match this JSON schema:\n{schema}"
        )

    # -- the reply -------------------------------------------------------------------

    def parse(self, message: Message, finish_reason: str | None = None) -> Any:
        """The reply as a validated instance (a dict for dict schemas).

        Raises :class:`~convo.errors.RefusalError` if the model refused,
        :class:`~convo.errors.TruncatedError` if the reply was cut off, and
        :class:`~convo.errors.ParseError` (``.raw``, ``.errors``) if it is not valid.
        """
        if message.refusal:
            raise RefusalError(message.refusal)
        if finish_reason == "length":
            raise TruncatedError(
                "the reply was cut off (finish_reason 'length') before the JSON was complete; "
                "raise max_tokens"
            )
        raw = self._raw(message)
        text = _unfence(raw)
        if not text.strip():
            raise ParseError("the reply is empty; expected a JSON object", raw=raw, errors=[])
        if self._adapter is not None:
            try:
                return self._adapter.validate_json(text)
            except pydantic.ValidationError as exc:
                errors = json.loads(exc.json(include_url=False))
                raise ParseError(
                    f"the reply does not match {self.name}: {_summary(errors)}",
                    raw=raw,
                    errors=errors,
                ) from None
        return self._parse_object(text, raw)

    def _raw(self, message: Message) -> str:
        calls = message.tool_calls or ()
        if calls and not message.text:
            chosen = next((c for c in calls if c.function.name == self.name), calls[0])
            return chosen.function.arguments
        return message.text

    def _parse_object(self, text: str, raw: str) -> dict[str, Any]:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            error = {"type": "json_invalid", "loc": [], "msg": f"Invalid JSON: {exc}"}
            raise ParseError(f"the reply is not JSON: {exc}", raw=raw, errors=[error]) from None
        if not isinstance(value, dict):
            error = {"type": "dict_type", "loc": [], "msg": "Input should be a JSON object"}
            raise ParseError(
                f"the reply is JSON but not an object ({type(value).__name__})",
                raw=raw,
                errors=[error],
            )
        return value

    def feedback(self, error: ParseError) -> Message:
        """The user message that sends the validation errors back and asks again."""
        lines = [f"Your reply did not match the required {self.name} JSON format:"]
        errors = error.errors if isinstance(error.errors, list) else []
        for err in errors[:_SHOWN_ERRORS]:
            lines.append(f"- {_where(err)}: {err.get('msg', 'invalid')}")
        if len(errors) > _SHOWN_ERRORS:
            lines.append(f"- and {len(errors) - _SHOWN_ERRORS} more errors")
        if not errors:
            lines.append(f"- {error}")
        lines.append("Answer again with only the corrected JSON object.")
        return Message.user("\n".join(lines), name=FEEDBACK_NAME)

    def partial(self, text: str) -> dict[str, Any] | None:
        """The object so far, from the start of a JSON text; ``None`` before it begins.

        Only complete values appear: a string or number still arriving is left out,
        as is a key without its value. The result is a plain dict (the validated
        instance comes from :meth:`parse` once the reply is complete). Never raises.

        >>> spec = output_spec({"type": "object", "properties": {"n": {"type": "integer"}}})
        >>> spec.partial('{"n": 12'), spec.partial('{"n": 123}')
        ({}, {'n': 123})
        """
        body = _OPEN_FENCE.sub("", text, count=1).rstrip()
        if body.endswith("```"):
            body = body[:-3].rstrip()
        if not body.startswith("{"):
            return None
        # A number at the end may still be growing ("1" of "12"): leave it out. Inside a
        # string still arriving the cut is harmless: that string is left out anyway.
        head = body.rstrip(_NUMBER_CHARS)
        if len(head) < len(body) and body[len(head)] in "-0123456789":
            body = head
        try:
            value = pydantic_core.from_json(body, allow_partial=True)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def partial_value(self, text: str) -> Any:
        """The output so far as the requested type, from the complete values received
        (strings still arriving are left out): a validated instance once it validates;
        before that, for a pydantic model, an unvalidated instance holding only the
        fields received (``model_fields_set`` names them); a dict for dict schemas;
        ``None`` before the JSON begins. Never raises."""
        value = self.partial(text)
        if value is None or self._adapter is None:
            return value
        try:
            return self._adapter.validate_python(value, experimental_allow_partial=True)
        except pydantic.ValidationError:
            model = self.model
            if isinstance(model, type) and issubclass(model, pydantic.BaseModel):
                fields = {k: v for k, v in value.items() if k in model.model_fields}
                return model.model_construct(_fields_set=set(fields), **fields)
            return None


def output_spec(response_format: Any) -> OutputSpec | None:
    """An :class:`OutputSpec` for what ``response_format=`` accepts (``None`` gives ``None``).

    - a type (pydantic model, dataclass, TypedDict): its strict schema; parse validates
      into an instance;
    - a JSON schema dict: made strict; parse checks the reply is a JSON object (dict
      schemas are not validated further: that would need a JSON-schema validator);
    - ``{"type": "json_object"}`` or ``{"type": "json_schema", "json_schema": {...}}``:
      sent unchanged; parse checks for a JSON object.

    >>> output_spec({"type": "json_object"}).request_params("tools")
    {'response_format': {'type': 'json_object'}}
    """
    if response_format is None or isinstance(response_format, OutputSpec):
        return response_format
    if isinstance(response_format, Mapping):
        return _from_dict(dict(response_format))
    if isinstance(response_format, type):
        schema = strict_schema(response_format)
        doc = schema.pop("description", None)
        return OutputSpec(
            name=_name(response_format.__name__),
            schema=schema,
            model=response_format,
            description=doc,
        )
    raise ParameterError(
        "response_format must be a pydantic model class, a JSON schema dict, or the API's "
        f"response_format dict; got {type(response_format).__name__}",
        param="response_format",
    )


def _from_dict(rf: dict[str, Any]) -> OutputSpec:
    kind = rf.get("type")
    if kind in _API_TYPES:
        inner = rf.get("json_schema")
        if kind == "json_schema" and not isinstance(inner, Mapping):
            raise ParameterError(
                'response_format {"type": "json_schema"} needs a "json_schema" object',
                param="response_format",
            )
        name = str(inner.get("name", "output")) if isinstance(inner, Mapping) else "json_object"
        schema = inner.get("schema") if isinstance(inner, Mapping) else None
        return OutputSpec(
            name=name, schema=schema if isinstance(schema, dict) else None, passthrough=rf
        )
    if not {"type", "properties", "$defs", "anyOf", "$ref"} & set(rf):
        raise ParameterError(
            "response_format dict is neither a JSON schema nor the API's response_format "
            f"(keys: {', '.join(sorted(map(str, rf))) or 'none'})",
            param="response_format",
        )
    schema = strict_schema(rf)
    doc = schema.pop("description", None)
    return OutputSpec(name=_name(str(rf.get("title", "output"))), schema=schema, description=doc)


def _check_mode(mode: str) -> None:
    if mode not in _MODES:
        raise ParameterError(
            f"output mode {mode!r} is not one of {', '.join(_MODES)}", param="output_mode"
        )


def _name(text: str) -> str:
    # Generic models are named like "Page[Item]"; the API allows [a-zA-Z0-9_-]{1,64}.
    return _NAME_CHARS.sub("_", text).strip("_")[:64] or "output"


def _unfence(text: str) -> str:
    # Models in JSON-object or tool fallback modes sometimes wrap the JSON in a fence.
    match = _FENCE.match(text)
    return match.group(1) if match else text


def _where(err: Mapping[str, Any]) -> str:
    loc = err.get("loc") or ()
    return ".".join(str(p) for p in loc) or "(the whole object)"


def _summary(errors: list[dict[str, Any]]) -> str:
    first = errors[0] if errors else {}
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{_where(first)}: {first.get('msg', 'invalid')}{more}"
