"""The Jinja sandbox every template renders in, with bounds on work and output.

Jinja's :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` already refuses
``''.__class__``, ``|attr('__class__')`` and mutating methods, and caps a single
``range`` at 100,000 items. It does not bound how much work or text a template makes:
two nested loops, or a string doubled thirty times, can hang or exhaust memory. The
environment here adds those bounds (:class:`Limits`):

- every ``for`` loop and every ``range`` is counted against ``max_steps``, and a
  deadline (``timeout``) is checked at each step, each call and each output chunk;
- every way of making a long string (``~``, ``+``, ``*``, ``%``, ``**``, captured
  blocks, ``str.format``, amplifying filters and methods such as ``center``,
  ``replace`` and ``join``) is checked *before* it allocates, against ``max_chars``;
- the optimizer is off, so nothing is evaluated at compile time, outside the bounds.

The environment is built once per process (:func:`environment`); compiled templates
keep it.

>>> from convo.errors import TemplateLimitError
>>> compiled = compile_source("{% for a in range(1000) %}{% for b in range(1000) %}"
...                           "x{% endfor %}{% endfor %}", name="loops")
>>> try:
...     render(compiled, {}, Limits(max_steps=10_000))
... except TemplateLimitError as exc:
...     print(exc)
more than 10,000 loop steps and range items
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import secrets
import string
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.filters import make_attrgetter
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment, safe_range
from jinja2.visitor import NodeTransformer

from convo.errors import TemplateLimitError

__all__ = [
    "MARKER",
    "Limits",
    "compile_source",
    "environment",
    "marker",
    "parse_source",
    "render",
]


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on one render.

    ``max_chars`` bounds the output and every string or list made on the way;
    ``max_steps`` bounds loop iterations plus ``range`` items; ``timeout`` is in seconds.

    >>> Limits().max_chars
    1000000
    """

    max_chars: int = 1_000_000
    max_steps: int = 1_000_000
    timeout: float = 2.0


class _Budget:
    """What one render has spent so far; lives in a context variable during the render."""

    __slots__ = ("deadline", "limits", "nonce", "steps")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.steps = 0
        self.deadline = time.monotonic() + limits.timeout
        # Role markers embed this: it is unknown before the render starts, so no
        # variable's value can forge one.
        self.nonce = secrets.token_hex(16)

    def step(self, n: int = 1) -> None:
        self.steps += n
        if self.steps > self.limits.max_steps:
            raise TemplateLimitError(
                f"more than {self.limits.max_steps:,} loop steps and range items"
            )
        if n > 1 or not self.steps & 15:  # reading the clock costs more than a cheap step
            self.check_time()

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateLimitError(f"rendering took longer than {self.limits.timeout:g} s")

    def chars(self, n: int, what: str) -> None:
        if n > self.limits.max_chars:
            raise TemplateLimitError(
                f"{what} would make {n:,} characters or items; the limit is "
                f"{self.limits.max_chars:,}"
            )


_active: ContextVar[_Budget | None] = ContextVar("convo_template_budget", default=None)


def _budget() -> _Budget:
    # Outside render() (a compiled template used directly) each check gets a fresh
    # default budget: size checks still hold, steps and time do not accumulate.
    return _active.get() or _Budget(Limits())


@contextmanager
def _spending(limits: Limits) -> Iterator[_Budget]:
    budget = _Budget(limits)
    token = _active.set(budget)
    try:
        yield budget
    finally:
        _active.reset(token)


def marker(nonce: str, role: str) -> str:
    """The text a role marker renders to in the render with ``nonce``."""
    return f"\x00{nonce}:{role}\x00"


MARKER = re.compile("\x00([0-9a-f]{32}):([a-z]+)\x00")
"""Finds role markers; group 1 is the render's nonce, group 2 the role."""


# -- size estimates, made before the allocation ---------------------------------------

_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\d+|\*)?(?:\.(\d+|\*))?")
_BATCH = 32
_INT_BITS = 1 << 16  # far past any number a prompt prints (Python refuses 4,300+ digits)


def _check_printf(fmt: str, args: Any) -> None:
    budget = _budget()
    for width, precision in _PRINTF.findall(fmt):
        for number in (width, precision):
            if number == "*":
                values = args if isinstance(args, tuple) else (args,)
                for value in values:
                    if isinstance(value, int):
                        budget.chars(value, "a format width")
            elif number:
                budget.chars(int(number), "a format width")


def _check_format(fmt: str, args: Iterable[Any]) -> None:
    budget = _budget()
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format raises the same error itself
    for _, _, spec, _ in fields:
        if not spec:
            continue
        if "{" in spec:  # a nested width comes from the arguments
            for value in args:
                if isinstance(value, int):
                    budget.chars(value, "a format width")
        for number in re.findall(r"\d+", spec):
            budget.chars(int(number), "a format width")


def _replaced_size(s: str, old: str, new: str, count: Any = None) -> int:
    hits = s.count(old) if old else len(s) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(s) + hits * max(len(new) - len(old), 0)


def _arg(args: tuple[Any, ...], kwargs: Mapping[str, Any], i: int, key: str, default: Any) -> Any:
    return args[i] if len(args) > i else kwargs.get(key, default)


def _width(s: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    width = _arg(args, kwargs, 0, "width", 0)
    return max(len(s), width) if isinstance(width, int) else len(s)


def _tabs(s: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    size = _arg(args, kwargs, 0, "tabsize", 8)
    return len(s) + s.count("\t") * size if isinstance(size, int) else len(s)


def _replace(s: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    old, new = _arg(args, kwargs, 0, "old", ""), _arg(args, kwargs, 1, "new", "")
    if not (isinstance(old, str) and isinstance(new, str)):
        return len(s)
    return _replaced_size(s, old, new, _arg(args, kwargs, 2, "count", None))


def _translate(s: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    table = _arg(args, kwargs, 0, "table", None)
    if not isinstance(table, Mapping):
        return len(s)
    longest = max((len(v) for v in table.values() if isinstance(v, str)), default=1)
    return len(s) * max(longest, 1)


# str methods that can return much more text than they are given.
_STR_METHODS: dict[str, Callable[[str, tuple[Any, ...], Mapping[str, Any]], int]] = {
    "center": _width,
    "ljust": _width,
    "rjust": _width,
    "zfill": _width,
    "expandtabs": _tabs,
    "replace": _replace,
    "translate": _translate,
}


def _joined(sep: str, items: Iterable[Any]) -> str:
    parts = [str(item) for item in items]
    _budget().chars(sum(map(len, parts)) + len(sep) * max(len(parts) - 1, 0), "join")
    return sep.join(parts)


# -- filters that amplify, guarded -----------------------------------------------------


def _guarded(func: Callable[..., Any], estimate: Callable[..., int], what: str) -> Any:
    skip = 1 if hasattr(func, "jinja_pass_arg") else 0

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        value, rest = args[skip], args[skip + 1 :]
        _budget().chars(estimate(value, rest, kwargs), f"the {what} filter")
        return func(*args, **kwargs)

    return wrapper


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _indent_size(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    s = _text(value)
    width = _arg(args, kwargs, 0, "width", 4)
    unit = width if isinstance(width, int) else len(str(width))
    return len(s) + unit * (s.count("\n") + 1)


def _wordwrap_size(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    s = _text(value)
    wrap = _arg(args, kwargs, 2, "wrapstring", None)
    return len(s) * (1 + (len(wrap) if isinstance(wrap, str) else 1))


def _format_size(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    s = _text(value)
    _check_printf(s, args)
    return len(s)


def _batch_size(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    count = _arg(args, kwargs, 0, "linecount", 0)
    filled = _arg(args, kwargs, 1, "fill_with", None) is not None
    return count if filled and isinstance(count, int) else 0


def _slice_size(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    slices = _arg(args, kwargs, 0, "slices", 0)
    return slices if isinstance(slices, int) else 0


def _tojson_size(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    indent = _arg(args, kwargs, 0, "indent", None)
    # An indent is repeated on every line of the output; beyond a few dozen it is an attack.
    return indent * 10_000 if isinstance(indent, int) else 0


def _center_size(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    return _width(_text(value), args, kwargs)


def _replace_size(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    return _replace(_text(value), args, kwargs)


@jinja2.pass_environment
def _join_filter(
    env: jinja2.Environment, value: Iterable[Any], d: str = "", attribute: Any = None
) -> str:
    if attribute is not None:
        value = map(make_attrgetter(env, attribute), value)
    return _joined(str(d), value)


_FILTER_BOUNDS = {
    "center": _center_size,
    "indent": _indent_size,
    "wordwrap": _wordwrap_size,
    "format": _format_size,
    "replace": _replace_size,
    "batch": _batch_size,
    "slice": _slice_size,
    "tojson": _tojson_size,
}


# -- the environment ---------------------------------------------------------------------


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with bounded work and output (see the module docstring)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self) -> None:
        super().__init__(
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # prompts, not HTML
            optimized=False,  # constant folding would compute outside the bounds
            trim_blocks=True,
            lstrip_blocks=True,
        )
        # lipsum(n) makes n paragraphs in one call; prompts have no use for it.
        self.globals.pop("lipsum", None)
        self.globals["range"] = _counted_range
        for name, estimate in _FILTER_BOUNDS.items():
            self.filters[name] = _guarded(self.filters[name], estimate, name)
        self.filters["join"] = _join_filter

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = _budget()
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int):
                    budget.chars(len(seq) * n, "'*'")
            if isinstance(left, int) and isinstance(right, int):
                _check_bits(left.bit_length() + right.bit_length())
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
                _check_bits(math.ceil(right * math.log2(abs(left))))
        elif operator == "+":
            if isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
                budget.chars(len(left) + len(right), "'+'")
        elif operator == "%" and isinstance(left, str):
            _check_printf(left, right)
        return self.binop_table[operator](left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        budget.step()
        if isinstance(__obj, LoopContext) and args:  # a recursive loop's ``loop(...)``
            args = (_counted(args[0]), *args[1:])
        else:
            target = getattr(__obj, "__wrapped__", __obj)
            owner = getattr(target, "__self__", None)
            if isinstance(owner, str):
                name = getattr(target, "__name__", "")
                if name == "join" and args:
                    return _joined(owner, args[0])
                if name in ("format", "format_map"):
                    values = args[0].values() if name == "format_map" and args else args
                    _check_format(owner, [*values, *kwargs.values()])
                estimate = _STR_METHODS.get(name)
                if estimate is not None:
                    budget.chars(estimate(owner, args, kwargs), f"str.{name}")
        return super().call(__context, __obj, *args, **kwargs)

    def concat(self, parts: Iterable[str]) -> str:
        # Joins the text captured by a macro, a {% set %} block or a filter block.
        parts = list(parts)
        budget = _budget()
        budget.chars(sum(map(len, parts)), "captured text")
        budget.check_time()
        return "".join(parts)

    def join_checked(self, *parts: Any) -> str:
        """The ``~`` operator, with its result checked before it is made."""
        return _joined("", parts)

    def counted(self, iterable: Any) -> Iterator[Any]:
        """A ``for`` loop's iterable, counting each step against the budget."""
        return _counted(iterable)

    def role_marker(self, role: str) -> str:
        """The marker that starts a message; only this render's nonce makes it."""
        return marker(_budget().nonce, role)


def _check_bits(bits: int) -> None:
    if bits > _INT_BITS:
        raise TemplateLimitError(
            f"a number of about {bits:,} bits is over the {_INT_BITS:,}-bit limit"
        )


def _counted(iterable: Any) -> Iterator[Any]:
    budget = _budget()
    step = budget.step
    for item in iterable:
        step()
        yield item


def _counted_range(*args: int) -> range:
    r = safe_range(*args)
    _budget().step(len(r))
    return r


class _Guards(NodeTransformer):
    """Routes ``for`` iterables and ``~`` through the environment's counted versions."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _env_call("counted", [node.iter], node.iter.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _env_call("join_checked", list(node.nodes), node.lineno)


def _env_call(method: str, args: list[Any], lineno: int) -> nodes.Call:
    call = nodes.Call(nodes.EnvironmentAttribute(method), args, [], None, None)
    call.set_lineno(lineno)
    call.set_environment(environment())
    return call


@functools.cache
def environment() -> jinja2.Environment:
    """The one sandboxed environment, made on first use and shared by every template."""
    return _Sandbox()


def parse_source(source: str, name: str, filename: str) -> nodes.Template:
    """Parse Jinja text; raises :class:`jinja2.TemplateSyntaxError` with the line."""
    return environment().parse(source, name, filename)


def compile_source(
    source: str | nodes.Template, *, name: str = "<template>", filename: str | None = None
) -> jinja2.Template:
    """Compile Jinja text (or a tree from :func:`parse_source`) with the guards in place."""
    env = environment()
    filename = filename or f"<template {name}>"
    tree = parse_source(source, name, filename) if isinstance(source, str) else source
    tree = _Guards().visit(tree)
    code = env.compile(tree, name, filename)
    return env.template_class.from_code(env, code, env.make_globals(None))


def render(
    template: jinja2.Template, variables: Mapping[str, Any], limits: Limits | None = None
) -> tuple[str, str]:
    """Render within ``limits``; returns the text and the render's role-marker nonce.

    Jinja's own exceptions pass through (the caller adds the template's name and line);
    going past a bound raises :class:`~convo.errors.TemplateLimitError`.
    """
    limits = limits or Limits()
    with _spending(limits) as budget:
        out: list[str] = []
        size = 0
        chunks = template.generate(variables)
        # A few chunks at a time: checking each one doubles the cost of a loop, and a
        # batch holds at most _BATCH chunks of bounded size.
        while batch := list(itertools.islice(chunks, _BATCH)):
            size += sum(map(len, batch))
            budget.chars(size, "the output")
            budget.check_time()
            out += batch
        return "".join(out), budget.nonce
