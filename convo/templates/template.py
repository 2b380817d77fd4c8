"""A prompt template: Jinja text, parsed and compiled once, rendered in the sandbox.

>>> t = Template("You help with {{ product }}.", name="helper")
>>> t.render(product="Acme")
'You help with Acme.'
>>> chat = Template("system:\\nBe brief.\\nuser:\\n{{ q }}")
>>> [(m.role, m.text) for m in chat.render(q="{{ 7*7 }}")]
[('system', 'Be brief.'), ('user', '{{ 7*7 }}')]
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import jinja2
from jinja2 import meta
from jinja2.exceptions import SecurityError

from convo.errors import (
    MessageError,
    TemplateError,
    TemplateLimitError,
    TemplateSecurityError,
    TemplateSyntaxError,
    UndefinedVariableError,
)
from convo.messages import Message, to_messages
from convo.templates import prompty, sandbox
from convo.templates.sandbox import Limits

__all__ = ["Template"]

_CACHE_SIZE = 64


class Template:
    """A prompt template; see ``docs/templates.md`` for the format.

    ``source`` is Jinja text, optionally with Prompty front matter and role lines
    (``system:``, ``user:``, ...). The text is parsed and compiled here, once: a syntax
    error raises :class:`~convo.errors.TemplateSyntaxError` naming the template and line.
    Rendering runs in a sandbox bounded by ``limits``.
    """

    __slots__ = (
        "_cache",
        "_compiled",
        "_defaults",
        "_filename",
        "_lock",
        "front_matter",
        "hash",
        "is_messages",
        "limits",
        "name",
        "path",
        "source",
        "variables",
    )

    def __init__(
        self,
        source: str,
        *,
        name: str | None = None,
        limits: Limits | None = None,
        path: str | os.PathLike[str] | None = None,
    ) -> None:
        if not isinstance(source, str):
            raise TemplateError(f"a template's source must be a str, got {type(source).__name__}")
        label = name or "<template>"
        doc = prompty.parse(source, name=label)
        self.source = source
        self.hash = hashlib.sha256(source.encode("utf-8")).hexdigest()
        self.path = Path(path) if path is not None else None
        fm_name = doc.front_matter.get("name")
        self.name: str = name or (fm_name if isinstance(fm_name, str) and fm_name else label)
        self.front_matter: dict[str, Any] = doc.front_matter
        self.is_messages = bool(doc.roles)
        inputs = doc.front_matter.get("inputs") or {}
        self._defaults = {k: spec["default"] for k, spec in inputs.items() if "default" in spec}
        self.limits = limits or Limits()
        self._filename = f"<template {self.name}>"
        try:
            tree = sandbox.parse_source(doc.body, self.name, self._filename)
            env = sandbox.environment()
            self.variables: frozenset[str] = frozenset(
                meta.find_undeclared_variables(tree) - env.globals.keys()
            )
            if self.is_messages:
                tree = prompty.mark_roles(tree, name=self.name)
            self._compiled = sandbox.compile_source(tree, name=self.name, filename=self._filename)
        except jinja2.TemplateSyntaxError as exc:
            raise self._error(TemplateSyntaxError, exc.message or str(exc), exc.lineno) from None
        self._cache: OrderedDict[Any, str | tuple[Message, ...]] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], *, name: str | None = None, limits: Limits | None = None
    ) -> Template:
        """Load a template file (UTF-8); its name is ``name`` or the file's stem.

        >>> Template.from_file("examples/templates/assistant.prompty").name
        'assistant'
        """
        p = Path(path)
        try:
            source = p.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise TemplateError(f"cannot read template file {str(p)!r}: {exc}") from None
        return cls(source, name=name or p.stem, limits=limits, path=p)

    # -- what the template says about itself --------------------------------------------

    @property
    def model(self) -> str | None:
        """The model the front matter names, if any."""
        return cast("str | None", self.front_matter.get("model"))

    @property
    def parameters(self) -> dict[str, Any]:
        """Request parameters from the front matter (``temperature``, ``max_tokens``, ...)."""
        return dict(self.front_matter.get("parameters") or {})

    @property
    def defaults(self) -> dict[str, Any]:
        """Values of the front matter's inputs that declare a ``default``."""
        return dict(self._defaults)

    # -- rendering ----------------------------------------------------------------------

    def render(self, /, **variables: Any) -> str | list[Message]:
        """The text, or the messages of a message-list template.

        Values are inserted as they are: text in a value is never rendered again and
        never starts a message.
        """
        if self.is_messages:
            return self.render_messages(**variables)
        return self.render_text(**variables)

    def render_text(self, /, **variables: Any) -> str:
        """The rendered text of a plain template (an error for a message-list template)."""
        if self.is_messages:
            raise TemplateError(
                f"template {self.name!r} is a message list; use render_messages()",
                template=self.name,
            )
        return self._render(variables)[0].strip()

    def render_messages(self, /, **variables: Any) -> list[Message]:
        """The messages; a plain template gives one system message (none if blank)."""
        text, nonce = self._render(variables)
        if not self.is_messages:
            text = text.strip()
            return [Message.system(text)] if text else []
        sections = prompty.split_roles(text, nonce, name=self.name)
        try:
            return to_messages({"role": role, "content": content} for role, content in sections)
        except MessageError as exc:
            raise TemplateError(f"template {self.name!r}: {exc}", template=self.name) from None

    def render_cached(self, /, **variables: Any) -> str | list[Message]:
        """:meth:`render`, remembering the last results per variables.

        Only values made of str, numbers, bools, None, lists, tuples and dicts are
        remembered; any other value renders afresh every time.
        """
        try:
            key = _freeze(variables)
        except _Unfreezable:
            return self.render(**variables)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
        if hit is None:
            result = self.render(**variables)
            hit = tuple(result) if isinstance(result, list) else result
            with self._lock:
                self._cache[key] = hit
                if len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        return list(hit) if isinstance(hit, tuple) else hit

    def _render(self, variables: Mapping[str, Any]) -> tuple[str, str]:
        values = {**self._defaults, **variables}
        try:
            return sandbox.render(self._compiled, values, self.limits)
        except TemplateError as exc:
            if exc.template is not None:
                raise
            raise self._error(type(exc), str(exc), _line(exc, self._filename)) from None
        except SecurityError as exc:
            raise self._error(TemplateSecurityError, str(exc), _line(exc, self._filename)) from exc
        except jinja2.UndefinedError as exc:
            raise self._error(
                UndefinedVariableError, str(exc), _line(exc, self._filename), variable=_missing(exc)
            ) from exc
        except (RecursionError, MemoryError) as exc:
            message = "recursion too deep" if isinstance(exc, RecursionError) else "out of memory"
            raise self._error(TemplateLimitError, message, _line(exc, self._filename)) from exc
        except Exception as exc:  # a template's own error: 1/0, a bad filter argument, ...
            message = (
                str(exc)
                if isinstance(exc, jinja2.TemplateError)
                else f"{type(exc).__name__}: {exc}"
            )
            raise self._error(TemplateError, message, _line(exc, self._filename)) from exc

    def _error(
        self, cls: type[TemplateError], message: str, line: int | None, **kw: Any
    ) -> TemplateError:
        where = f"template {self.name!r}"
        if self.path is not None:
            where += f" ({self.path})"
        if line:
            where += f", line {line}"
        return cls(f"{where}: {message}", template=self.name, lineno=line, **kw)

    # -- identity -----------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Template):
            return NotImplemented
        return (self.name, self.source) == (other.name, other.source)

    def __hash__(self) -> int:
        return hash((self.name, self.hash))

    def __repr__(self) -> str:
        kind = "messages" if self.is_messages else "text"
        return f"Template(name={self.name!r}, {kind}, hash={self.hash[:12]!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.source, self.name, self.limits, self.path))


def _rebuild(source: str, name: str, limits: Limits, path: Path | None) -> Template:
    return Template(source, name=name, limits=limits, path=path)


def _line(exc: BaseException, filename: str) -> int | None:
    """The template line where ``exc`` was raised: Jinja rewrites the traceback so the
    template's frames carry its file name and line."""
    line = None
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


_QUOTED = re.compile(r"'([^']*)'")


def _missing(exc: jinja2.UndefinedError) -> str | None:
    # Jinja says "'name' is undefined", "'dict object' has no attribute 'name'" or
    # "parameter 'name' was not provided": the missing name is the last quoted word.
    found = _QUOTED.findall(exc.message or "")
    return found[-1] if found else None


class _Unfreezable(Exception):
    pass


_SCALARS = (str, int, float, bool, type(None))


def _freeze(value: Any) -> Any:
    # The type is part of the key: 1, 1.0 and True are equal but render differently.
    if isinstance(value, _SCALARS):
        return (type(value), value)
    if isinstance(value, (list, tuple)):
        return (type(value), tuple(_freeze(v) for v in value))
    if isinstance(value, dict):  # insertion order matters: a loop renders in it
        return (dict, tuple((_freeze(k), _freeze(v)) for k, v in value.items()))
    raise _Unfreezable
