"""Tools: typed Python functions the model may call, and the registry that groups them.

>>> @tool
... def add(a: int, b: int = 1) -> int:
...     '''Add two numbers.
...
...     Args:
...         a: The first number.
...         b: The second number.
...     '''
...     return a + b
>>> add.name, add.description
('add', 'Add two numbers.')
>>> add.parameters["properties"]["a"]
{'description': 'The first number.', 'type': 'integer'}
>>> add.validate('{"a": "2"}')
{'a': 2, 'b': 1}
>>> add(2, 3)
5
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, ParamSpec, Self, TypeVar, overload

import docstring_parser
import pydantic

from convo.errors import (
    ParameterError,
    ToolArgumentsError,
    ToolDefinitionError,
    ToolNotFoundError,
)
from convo.tools.schema import closed, function_model, strict_schema, tidy

__all__ = [
    "MAX_ARGUMENTS_SIZE",
    "MAX_RESULT_TOKENS",
    "Tool",
    "ToolRegistry",
    "as_registry",
    "tool",
]

P = ParamSpec("P")
R = TypeVar("R")

MAX_ARGUMENTS_SIZE = 1_000_000
"""The default bound, in characters, on the arguments text a model may send to a tool."""

MAX_RESULT_TOKENS = 25_000
"""The default bound, in tokens, on a tool's result: past it the model gets a truncated
result with a note (a result must not make the whole turn fail after its side effect)."""

_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_SHOWN = 80  # characters of a bad value quoted back to the model
_UNKNOWN = ("extra_forbidden", "unexpected_keyword_argument")


class Tool(Generic[P, R]):
    """A function the model may call: its name, description and parameter schema.

    Calling the tool calls the function. ``timeout`` (seconds) bounds a run when the
    loop runs it; ``max_arguments_size`` bounds the arguments text it will parse and
    ``max_result_tokens`` the result the model gets. ``strict=True`` sends OpenAI's
    strict function schema. ``idempotent=False`` marks a tool with side effects that
    must not happen twice: a repeat of an earlier call of the turn runs only if the
    ``approve`` hook returns ``True`` for it.

    >>> def now() -> str:
    ...     "The time."
    ...     return "noon"
    >>> Tool(now, name="clock").schema["function"]["name"]
    'clock'
    """

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        max_arguments_size: int = MAX_ARGUMENTS_SIZE,
        max_result_tokens: int = MAX_RESULT_TOKENS,
        strict: bool = False,
        idempotent: bool = True,
    ) -> None:
        if not callable(fn):
            raise ToolDefinitionError(f"a tool wraps a function, not {type(fn).__name__}")
        name = name if name is not None else getattr(fn, "__name__", None)
        if not isinstance(name, str) or not _NAME.match(name):
            raise ToolDefinitionError(
                f"tool name {name!r} must be 1 to 64 letters, digits, '_' or '-'; "
                "pass name=... to choose one"
            )
        if timeout is not None and not timeout > 0:
            raise ToolDefinitionError(f"timeout must be > 0 seconds, got {timeout!r}", tool=name)
        if max_arguments_size < 2:
            raise ToolDefinitionError("max_arguments_size must be at least 2", tool=name)
        if max_result_tokens < 1:
            raise ToolDefinitionError("max_result_tokens must be at least 1", tool=name)
        doc = docstring_parser.parse(inspect.getdoc(fn) or "")
        self.fn = fn
        self.name: str = name
        self.description: str = description if description is not None else _summary(doc)
        self.timeout = timeout
        self.max_arguments_size = max_arguments_size
        self.max_result_tokens = max_result_tokens
        self.strict = strict
        self.idempotent = idempotent
        self.is_async: bool = _is_async(fn)
        descriptions = {p.arg_name: p.description for p in doc.params if p.description}
        self._model, self._names = function_model(fn, name=name, descriptions=descriptions)
        self.parameters: dict[str, Any] = closed(tidy(self._model.model_json_schema()))
        self.schema: dict[str, Any] = self._schema()
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__wrapped__ = fn

    def _schema(self) -> dict[str, Any]:
        parameters = self.parameters
        if self.strict:
            try:
                parameters = strict_schema(parameters)
            except ParameterError as exc:
                raise ToolDefinitionError(str(exc), tool=self.name) from None
        function: dict[str, Any] = {"name": self.name}
        if self.description:
            function["description"] = self.description
        function["parameters"] = parameters
        if self.strict:
            function["strict"] = True
        return {"type": "function", "function": function}

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Tool({self.name!r})"

    def validate(self, arguments: str) -> dict[str, Any]:
        """The keyword arguments for the function, from the model's JSON text.

        Raises :class:`~convo.errors.ToolArgumentsError` with a message written for the
        model: what was wrong and where. Values are coerced the way pydantic does
        (``"2"`` becomes ``2`` for an ``int``); unknown fields are refused. Empty text
        is read as ``{}`` (models often send it for a tool without parameters).

        >>> Tool(lambda x=0: x, name="echo").validate("[]")
        Traceback (most recent call last):
        ...
        convo.errors.ToolArgumentsError: the arguments must be a JSON object, got an array
        """
        if len(arguments) > self.max_arguments_size:
            raise self._error(
                f"the arguments are {len(arguments):,} characters long, over the "
                f"{self.max_arguments_size:,} this tool accepts"
            )
        if not arguments.strip():
            arguments = "{}"
        try:
            # extra="forbid" at validation reaches nested models too, whatever their config
            values = self._model.model_validate_json(arguments, extra="forbid")
        except pydantic.ValidationError as exc:
            raise self._error(self._explain(exc, arguments)) from None
        return {name: getattr(values, f"p{i}") for i, name in enumerate(self._names)}

    def _error(self, message: str) -> ToolArgumentsError:
        return ToolArgumentsError(message, tool=self.name)

    def _explain(self, exc: pydantic.ValidationError, arguments: str) -> str:
        errors = exc.errors(include_url=False)
        first = errors[0]
        if first["type"] == "json_invalid":
            reason = str(first.get("ctx", {}).get("error", first["msg"]))
            return f"the arguments are not valid JSON ({reason}); send one JSON object"
        if first["type"] == "model_type":
            return f"the arguments must be a JSON object, got {_json_kind(arguments)}"
        lines = [f"the arguments do not match the parameters of {self.name}:"]
        for err in errors:
            where = ".".join(str(p) for p in err["loc"]) or "(arguments)"
            if err["type"] in _UNKNOWN and len(err["loc"]) > 1:
                lines.append(f"- {where}: not a field here (unknown fields are refused)")
            elif err["type"] in _UNKNOWN:
                accepted = ", ".join(self._names) or "no parameters"
                lines.append(f"- {where}: not a parameter of this tool (it takes {accepted})")
            elif err["type"] == "missing":
                lines.append(f"- {where}: required, but missing")
            else:
                lines.append(f"- {where}: {err['msg']} (got {_shorten(err['input'])})")
        return "\n".join(lines)


def _summary(doc: docstring_parser.Docstring) -> str:
    parts = [doc.short_description, doc.long_description]
    return "\n\n".join(p.strip() for p in parts if p and p.strip())


def _is_async(fn: Callable[..., Any]) -> bool:
    call = getattr(fn, "__call__", None)  # noqa: B004 - an object with an async __call__
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call)


def _json_kind(text: str) -> str:
    head = text.lstrip()[:1]
    kinds = {"[": "an array", '"': "a string", "t": "a boolean", "f": "a boolean", "n": "null"}
    return kinds.get(head, "a number")


def _shorten(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


@overload
def tool(fn: Callable[P, R], /) -> Tool[P, R]: ...
@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    max_arguments_size: int = MAX_ARGUMENTS_SIZE,
    max_result_tokens: int = MAX_RESULT_TOKENS,
    strict: bool = False,
    idempotent: bool = True,
) -> Callable[[Callable[P, R]], Tool[P, R]]: ...
def tool(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    max_arguments_size: int = MAX_ARGUMENTS_SIZE,
    max_result_tokens: int = MAX_RESULT_TOKENS,
    strict: bool = False,
    idempotent: bool = True,
) -> Tool[P, R] | Callable[[Callable[P, R]], Tool[P, R]]:
    """Make a function a :class:`Tool`; bare (``@tool``) or with overrides (``@tool(name=...)``).

    >>> @tool(name="lookup", timeout=5)
    ... async def find(query: str) -> list[str]:
    ...     "Search the notes."
    ...     return []
    >>> find.name, find.is_async, find.timeout
    ('lookup', True, 5)
    """

    def wrap(f: Callable[P, R]) -> Tool[P, R]:
        return Tool(
            f,
            name=name,
            description=description,
            timeout=timeout,
            max_arguments_size=max_arguments_size,
            max_result_tokens=max_result_tokens,
            strict=strict,
            idempotent=idempotent,
        )

    return wrap if fn is None else wrap(fn)


class ToolRegistry:
    """Tools by exact name. Accepts :class:`Tool` values or plain functions.

    >>> registry = ToolRegistry()
    >>> @registry.add
    ... def ping() -> str:
    ...     "Answer pong."
    ...     return "pong"
    >>> "ping" in registry, "PING" in registry, registry.names()
    (True, False, ('ping',))
    """

    def __init__(self, tools: Iterable[Tool[Any, Any] | Callable[..., Any]] = ()) -> None:
        self._tools: dict[str, Tool[Any, Any]] = {}
        self._schemas: tuple[dict[str, Any], ...] | None = None
        for item in tools:
            self.add(item)

    @overload
    def add(self, item: Tool[P, R], /) -> Tool[P, R]: ...
    @overload
    def add(self, item: Callable[P, R], /) -> Tool[P, R]: ...
    def add(self, item: Tool[Any, Any] | Callable[..., Any], /) -> Tool[Any, Any]:
        """Register a tool (a function is wrapped first); returns it, so it decorates too.

        Adding the same :class:`Tool` twice is a no-op; another tool with a taken name
        raises :class:`~convo.errors.ToolDefinitionError`.
        """
        new = item if isinstance(item, Tool) else Tool(item)
        held = self._tools.get(new.name)
        if held is new:
            return new
        if held is not None:
            raise ToolDefinitionError("a tool with this name is already registered", tool=new.name)
        self._tools[new.name] = new
        self._schemas = None
        return new

    def get(self, name: str) -> Tool[Any, Any] | None:
        """The tool with exactly this name (case matters), or ``None``."""
        return self._tools.get(name)

    def get_or_raise(self, name: str) -> Tool[Any, Any]:
        """The tool with exactly this name; :class:`~convo.errors.ToolNotFoundError` if none."""
        found = self._tools.get(name)
        if found is None:
            known = ", ".join(self._tools) or "none"
            raise ToolNotFoundError(f"no tool named {name!r}; the tools are: {known}", tool=name)
        return found

    def names(self) -> tuple[str, ...]:
        """The names, in the order the tools were added."""
        return tuple(self._tools)

    def schemas(self) -> tuple[dict[str, Any], ...]:
        """The ``tools`` list for a request, built once per change of the registry."""
        if self._schemas is None:
            self._schemas = tuple(t.schema for t in self._tools.values())
        return self._schemas

    def merge(self, *others: ToolRegistry | Iterable[Tool[Any, Any] | Callable[..., Any]]) -> Self:
        """A new registry with these tools and the others' (a name clash raises)."""
        merged = type(self)(self)
        for other in others:
            for item in other:
                merged.add(item)
        return merged

    __or__ = merge

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def __iter__(self) -> Iterator[Tool[Any, Any]]:
        return iter(list(self._tools.values()))

    def __repr__(self) -> str:
        return f"ToolRegistry({list(self._tools)!r})"


def as_registry(tools: Any) -> ToolRegistry:
    """A registry from what ``Conversation(tools=...)`` accepts.

    ``None`` gives an empty registry; a registry is used as is (tools added to it
    later are seen); a tool or function, or an iterable of tools, functions and
    registries, gives a new registry.

    >>> def a() -> None: ...
    >>> def b() -> None: ...
    >>> as_registry([a, ToolRegistry([b])]).names()
    ('a', 'b')
    """
    if tools is None:
        return ToolRegistry()
    if isinstance(tools, ToolRegistry):
        return tools
    if callable(tools):
        return ToolRegistry([tools])
    if isinstance(tools, str | bytes) or not isinstance(tools, Iterable):
        raise ParameterError(
            f"tools must be functions, Tool values or registries, not {type(tools).__name__}",
            param="tools",
        )
    registry = ToolRegistry()
    for item in tools:
        if isinstance(item, ToolRegistry):
            for each in item:
                registry.add(each)
        elif callable(item):
            registry.add(item)
        else:
            raise ParameterError(
                f"tools[...] must be a function, a Tool or a registry, not {type(item).__name__}",
                param="tools",
            )
    return registry
