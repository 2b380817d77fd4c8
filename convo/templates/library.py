"""Named templates: a registry (what plugins fill) and a library (a directory of files).

>>> registry = TemplateRegistry()
>>> registry.register("greet", "Hello {{ name }}!").is_messages
False
>>> registry.get("greet").render(name="Ada"), registry.names()
('Hello Ada!', ['greet'])
"""

from __future__ import annotations

import difflib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from convo.errors import TemplateError
from convo.templates.sandbox import Limits
from convo.templates.template import Template

__all__ = ["SUFFIXES", "TemplateLibrary", "TemplateRegistry"]

SUFFIXES: tuple[str, ...] = (".prompty", ".jinja", ".jinja2", ".j2", ".txt", ".md")
"""File endings a :class:`TemplateLibrary` reads as templates."""


class TemplateRegistry:
    """Templates by name. Names are unique: registering one twice is an error
    unless ``replace=True`` (so a plugin cannot silently take another's name)."""

    def __init__(self) -> None:
        self._templates: dict[str, Template] = {}
        self._lock = threading.RLock()

    def register(
        self,
        name: str,
        template: Template | str | os.PathLike[str],
        *,
        replace: bool = False,
    ) -> Template:
        """Add ``template`` (a :class:`Template`, Jinja source text, or a file path)."""
        if not isinstance(name, str) or not name:
            raise TemplateError(f"a template name must be a non-empty string, got {name!r}")
        if isinstance(template, Template):
            value = template
        elif isinstance(template, str):
            value = Template(template, name=name)
        elif isinstance(template, os.PathLike):
            value = Template.from_file(template, name=name)
        else:
            raise TemplateError(
                f"template {name!r}: expected a Template, source text or a path, "
                f"got {type(template).__name__}",
                template=name,
            )
        with self._lock:
            if not replace and name in self._names():
                raise TemplateError(
                    f"a template named {name!r} is already registered", template=name
                )
            self._templates[name] = value
        return value

    def get(self, name: str) -> Template:
        """The template called ``name``; an unknown name is an error suggesting near ones."""
        with self._lock:
            found = self._templates.get(name)
        if found is not None:
            return found
        known = self.names()
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise TemplateError(f"no template named {name!r}{hint}", template=name)

    def names(self) -> list[str]:
        """Every name, sorted."""
        with self._lock:
            return sorted(self._names())

    def _names(self) -> set[str]:
        return set(self._templates)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._names())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.names()!r})"


class TemplateLibrary(TemplateRegistry):
    """The templates in a directory (and its subdirectories), read on first use.

    A file's name is its path under the directory without the ending, with ``/``
    between folders: ``support/refund.prompty`` is ``"support/refund"``. Templates
    can also be registered on top, like in any registry.

    >>> lib = TemplateLibrary("examples/templates")
    >>> "assistant" in lib.names(), lib.get("assistant").is_messages
    (True, True)
    """

    def __init__(self, path: str | os.PathLike[str], *, limits: Limits | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.limits = limits
        if not self.path.is_dir():
            raise TemplateError(f"template directory {str(self.path)!r} does not exist")
        self._files: dict[str, Path] = {}
        for file in sorted(self.path.rglob("*")):
            if file.suffix not in SUFFIXES or not file.is_file():
                continue
            name = file.relative_to(self.path).with_suffix("").as_posix()
            if name in self._files:
                raise TemplateError(
                    f"template {name!r} is both {self._files[name]} and {file}", template=name
                )
            self._files[name] = file

    def get(self, name: str) -> Template:
        with self._lock:
            if name not in self._templates and name in self._files:
                self._templates[name] = Template.from_file(
                    self._files[name], name=name, limits=self.limits
                )
        return super().get(name)

    def _names(self) -> set[str]:
        return set(self._templates) | set(self._files)
