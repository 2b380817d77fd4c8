"""A tool that runs elsewhere and is described by a raw JSON schema (an MCP server's tool).

Its arguments are checked for shape here (one JSON object, within the size bound); the
schema itself is the other side's to enforce, and its refusals come back as the result.

>>> async def call(**arguments):
...     return arguments
>>> t = RemoteTool(call, name="lookup", description="Look up.",
...                parameters={"type": "object", "properties": {"q": {"type": "string"}}})
>>> t.schema["function"]["name"], t.validate('{"q": "x"}')
('lookup', {'q': 'x'})
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from convo.errors import ToolDefinitionError
from convo.tools.registry import _NAME, MAX_ARGUMENTS_SIZE, MAX_RESULT_TOKENS, Tool, _is_async

__all__ = ["RemoteTool"]

_KINDS = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}


class RemoteTool(Tool[..., Any]):
    """A :class:`~convo.tools.Tool` from a name, a description and a JSON schema;
    ``fn(**arguments)`` runs it (sync or async)."""

    def __init__(  # the base builds its schema from a signature: this one is given
        self,
        fn: Callable[..., Any],
        *,
        name: str,
        parameters: Mapping[str, Any],
        description: str = "",
        timeout: float | None = None,
        max_arguments_size: int = MAX_ARGUMENTS_SIZE,
        max_result_tokens: int = MAX_RESULT_TOKENS,
        idempotent: bool = True,
    ) -> None:
        if not _NAME.match(name):
            raise ToolDefinitionError(
                f"tool name {name!r} must be 1 to 64 letters, digits, '_' or '-'", tool=name
            )
        if timeout is not None and not timeout > 0:
            raise ToolDefinitionError(f"timeout must be > 0 seconds, got {timeout!r}", tool=name)
        self.fn = fn
        self.name = name
        self.description = description
        self.timeout = timeout
        self.max_arguments_size = max_arguments_size
        self.max_result_tokens = max_result_tokens
        self.strict = False
        self.idempotent = idempotent
        self.is_async = _is_async(fn)
        self.parameters = {"type": "object", "properties": {}, **parameters}
        self._names = tuple(self.parameters.get("properties") or ())
        self.schema = self._schema()
        self.__doc__ = description
        self.__wrapped__ = fn

    def __repr__(self) -> str:
        return f"RemoteTool({self.name!r})"

    def validate(self, arguments: str) -> dict[str, Any]:
        """The arguments as a dict: one JSON object (empty text reads as ``{}``)."""
        if len(arguments) > self.max_arguments_size:
            raise self._error(
                f"the arguments are {len(arguments):,} characters long, over the "
                f"{self.max_arguments_size:,} this tool accepts"
            )
        try:
            value = orjson.loads(arguments) if arguments.strip() else {}
        except orjson.JSONDecodeError as exc:
            raise self._error(
                f"the arguments are not valid JSON ({exc}); send one JSON object"
            ) from None
        if not isinstance(value, dict):
            kind = _KINDS.get(type(value), "a number")
            raise self._error(f"the arguments must be a JSON object, got {kind}")
        return value
