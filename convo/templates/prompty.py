"""The Prompty file format: YAML front matter, then a body split into messages by role lines.

A template file may start with front matter between two ``---`` lines (read with
``yaml.safe_load``), as Microsoft's Prompty format does::

    ---
    name: support
    model: gpt-4o-mini              # or Prompty's {id: ..., parameters: {...}}
    parameters: {temperature: 0.2}
    inputs:
      product: {type: string, default: Acme Cloud}
      question: {type: string, sample: How do I log in?}
    ---
    system:
    You support {{ product }}.
    user:
    {{ question }}

A line holding only a role and a colon (``system:``, ``developer:``, ``user:``,
``assistant:``; any case, optionally after a markdown ``#``) starts a message. Markers
count only where they are written in the template text: each one is turned into a
call in the compiled template that renders a marker holding a nonce drawn afresh for
every render. Text that a variable brings in, whatever it holds, can never start a
message, and a value holding ``{{ 7*7 }}`` is inserted as those characters, never
rendered again.

>>> doc = parse("---\\nmodel: gpt-4o\\n---\\nsystem:\\nHi {{ name }}", name="t")
>>> doc.front_matter["model"], doc.roles
('gpt-4o', ('system',))
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from jinja2 import nodes
from jinja2.visitor import NodeTransformer

from convo.errors import TemplateError, TemplateSyntaxError
from convo.templates.sandbox import MARKER, environment

__all__ = ["MARKER_ROLES", "Document", "mark_roles", "parse", "split_roles"]

MARKER_ROLES: tuple[str, ...] = ("system", "developer", "user", "assistant")
"""The roles a marker line may name (a ``tool`` message needs a call id, so it has none)."""

_MARKER_LINE = re.compile(
    r"^[ \t]*#?[ \t]*(system|developer|user|assistant)[ \t]*:[ \t]*$", re.IGNORECASE
)
# Stands for a marker line between the text scan and the syntax tree. A lone
# surrogate cannot come from a file, and :func:`parse` refuses it in a string.
_HOLE = "\udfff"
_HOLE_RE = re.compile(f"{_HOLE}([a-z]+){_HOLE}")


@dataclass(frozen=True, slots=True)
class Document:
    """A template's parts: front matter, the Jinja body, and the roles its markers name."""

    front_matter: dict[str, Any]
    body: str
    """The Jinja text, front matter blanked out so line numbers match the source."""
    roles: tuple[str, ...]
    """The marker roles in source order; empty for a plain text template."""


def parse(source: str, *, name: str) -> Document:
    """Split ``source`` into front matter and body, and mark the role lines."""
    _check_unicode(source, name)
    lines = source.splitlines(keepends=True)
    front: dict[str, Any] = {}
    start = 0
    if lines and lines[0].rstrip() in ("---", "\ufeff---"):
        end = next((i for i in range(1, len(lines)) if lines[i].rstrip() == "---"), None)
        if end is None:
            raise _syntax("the front matter opened on line 1 is never closed by '---'", name, 1)
        front = _front_matter("".join(lines[1:end]), name)
        start = end + 1
    roles: list[str] = []
    body = ["\n"] * start
    for line in lines[start:]:
        match = _MARKER_LINE.match(line.rstrip("\r\n"))
        if match:
            role = match.group(1).lower()
            roles.append(role)
            ending = line[len(line.rstrip("\r\n")) :]
            line = f"{_HOLE}{role}{_HOLE}{ending}"
        body.append(line)
    return Document(front, "".join(body), tuple(roles))


def _check_unicode(source: str, name: str) -> None:
    if not source.isascii():
        try:
            source.encode("utf-8")
        except UnicodeEncodeError as exc:
            line = source.count("\n", 0, exc.start) + 1
            raise _syntax(
                "the text holds a lone surrogate, which is not valid Unicode", name, line
            ) from None


def _syntax(message: str, name: str, line: int | None) -> TemplateSyntaxError:
    where = f"template {name!r}" + (f", line {line}" if line else "")
    return TemplateSyntaxError(f"{where}: {message}", template=name, lineno=line)


# -- front matter --------------------------------------------------------------------


def _front_matter(text: str, name: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else None  # +1 for '---', +1 for 1-based
        problem = getattr(exc, "problem", None) or str(exc)
        raise _syntax(f"front matter is not valid YAML: {problem}", name, line) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _syntax("front matter must be a YAML mapping", name, 2)

    def fail(key: str, message: str) -> TemplateSyntaxError:
        line = next(
            (i + 2 for i, row in enumerate(text.splitlines()) if row.startswith(f"{key}:")), 2
        )
        return _syntax(f"front matter {key!r}: {message}", name, line)

    model = data.get("model")
    parameters = data.get("parameters")
    if isinstance(model, Mapping):  # Prompty's {id, api, configuration, parameters}
        if parameters is None:
            parameters = model.get("parameters")
        config = model.get("configuration") or {}
        model = model.get("id") or model.get("name")
        if model is None and isinstance(config, Mapping):
            model = config.get("model") or config.get("name") or config.get("azure_deployment")
    if model is not None and not isinstance(model, str):
        raise fail("model", f"expected a model name, got {type(model).__name__}")
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, Mapping):
        raise fail("parameters", f"expected a mapping, got {type(parameters).__name__}")
    inputs = _inputs(data.get("inputs"), data.get("sample"), fail)
    return {**data, "model": model, "parameters": dict(parameters), "inputs": inputs}


def _inputs(raw: Any, sample: Any, fail: Any) -> dict[str, dict[str, Any]]:
    """``inputs`` as ``{name: {type?, description?, default?, sample?}}``.

    Prompty writes them as a mapping or (Prompty 2) as a list of ``{name: ...}``; a bare
    value is a sample. Only ``default`` fills in a missing variable: a sample is an
    example, and sending an example as a real user's data would be a silent bug.
    """
    out: dict[str, dict[str, Any]] = {}
    if isinstance(raw, list):
        for item in raw:
            if not (isinstance(item, Mapping) and isinstance(item.get("name"), str)):
                raise fail("inputs", "each item of a list must be a mapping with a 'name'")
            out[item["name"]] = {k: v for k, v in item.items() if k != "name"}
    elif isinstance(raw, Mapping):
        for key, spec in raw.items():
            out[str(key)] = dict(spec) if isinstance(spec, Mapping) else {"sample": spec}
    elif raw is not None:
        raise fail("inputs", f"expected a mapping or a list, got {type(raw).__name__}")
    if sample is not None:
        if not isinstance(sample, Mapping):
            raise fail("sample", f"expected a mapping, got {type(sample).__name__}")
        for key, value in sample.items():
            out.setdefault(str(key), {}).setdefault("sample", value)
    return out


# -- role markers --------------------------------------------------------------------


class _Markers(NodeTransformer):
    def visit_TemplateData(self, node: nodes.TemplateData) -> list[nodes.Node]:
        pieces = _HOLE_RE.split(node.data)
        if len(pieces) == 1:
            return [node]
        out: list[nodes.Node] = []
        for i, piece in enumerate(pieces):
            if i % 2:
                call = nodes.Call(
                    nodes.EnvironmentAttribute("role_marker"), [nodes.Const(piece)], [], None, None
                )
                out.append(call)
            elif piece:
                out.append(nodes.TemplateData(piece))
        for new in out:
            new.set_lineno(node.lineno)
            new.set_environment(environment())
        return out


def mark_roles(tree: nodes.Template, *, name: str) -> nodes.Template:
    """Turn the marker lines of a parsed body into role-marker calls.

    A marker line written inside a ``{{ }}`` or ``{% %}`` tag is refused: it would
    otherwise end up as text in an expression.
    """
    tree = _Markers().visit(tree)
    for const in tree.find_all(nodes.Const):
        if isinstance(const.value, str) and _HOLE in const.value:
            raise _syntax("a role line cannot be inside a {{ }} or {% %} tag", name, const.lineno)
    return tree


def split_roles(text: str, nonce: str, *, name: str) -> list[tuple[str, str]]:
    """Cut rendered text at this render's markers into ``(role, content)`` pairs.

    Text before the first marker is a system message (as in Prompty). Content is
    stripped, and a section that renders to nothing but whitespace is left out, so
    that ``{% if %}`` can drop a message.
    """
    cuts: list[tuple[str, int, int]] = [("system", 0, 0)]
    for match in MARKER.finditer(text):
        if match.group(1) == nonce:  # any other "marker" is just text from a value
            cuts.append((match.group(2), match.start(), match.end()))
    ends = [start for _, start, _ in cuts[1:]] + [len(text)]
    out: list[tuple[str, str]] = []
    for (role, _, begin), end in zip(cuts, ends, strict=True):
        content = text[begin:end]
        if nonce in content.lower():
            raise TemplateError(
                f"template {name!r}: a role marker was changed before it was output (by a "
                "filter block or a slice); role lines must be output as they are",
                template=name,
            )
        content = content.strip()
        if content:
            out.append((role, content))
    return out
