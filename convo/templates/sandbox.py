"""The Jinja sandbox every template renders in, with bounds on work and output.

Jinja's :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` already refuses
``''.__class__``, ``|attr('__class__')`` and mutating methods, and caps a single
``range`` at 100,000 items. It does not bound how much work or text a template makes:
two nested loops, or a string doubled thirty times, can hang or exhaust memory. The
environment here adds those bounds (:class:`Limits`):

- every ``for`` loop and every ``range`` is counted against ``max_steps``, and a
  deadline (``timeout``) is checked at each step, each call and each output chunk;
- every way of making a long string (``~``, ``+``, ``*``, ``%``, ``**``, captured
  blocks, amplifying filters and methods such as ``center``, ``replace`` and
  ``join``) is checked *before* it allocates, against ``max_chars``; so is the text of
  a container before it is printed or formatted (a list of 1,000 references to one
  long string is small until it is printed);
- ``str.format`` and ``format_map`` go through the sandbox's formatter, which sees
  every width and precision once resolved, however it was given (a literal, a string
  argument, an item or attribute of an argument);
- only the ``str`` methods of :mod:`convo.templates.policy` may be used, nothing of
  ``bytes``, and a module or an os-level callable given as a variable is inert;
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
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter, safe_range
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

from convo.templates import policy
from convo.templates.bounds import (
    BATCH,
    FILTER_BOUNDS,
    REPEATED,
    STR_ESTIMATES,
    BoundedEscapeFormatter,
    BoundedFormatter,
    Fields,
    Limits,
    check_bits,
    check_printf,
    check_text,
    current,
    finalize,
    guarded,
    join_filter,
    joined,
    spending,
    text_size,
)

__all__ = [
    "MARKER",
    "Limits",
    "compile_source",
    "environment",
    "marker",
    "parse_source",
    "render",
]


def marker(nonce: str, role: str) -> str:
    """The text a role marker renders to in the render with ``nonce``."""
    return f"\x00{nonce}:{role}\x00"


MARKER = re.compile("\x00([0-9a-f]{32}):([a-z]+)\x00")
"""Finds role markers; group 1 is the render's nonce, group 2 the role."""


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
            finalize=finalize,
        )
        # lipsum(n) makes n paragraphs in one call; prompts have no use for it.
        self.globals.pop("lipsum", None)
        self.globals["range"] = _counted_range
        for name, estimate in FILTER_BOUNDS.items():
            self.filters[name] = guarded(self.filters[name], estimate, name)
        self.filters["join"] = join_filter

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = current()
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, REPEATED) and isinstance(n, int) and n > 0:
                    # items, and the text they print as: both before anything is made
                    size = (
                        len(seq)
                        if isinstance(seq, str | bytes | bytearray)
                        else max(len(seq), text_size(seq, budget.limits.max_chars))
                    )
                    budget.chars(size * n, "'*'")
            if isinstance(left, int) and isinstance(right, int):
                check_bits(left.bit_length() + right.bit_length())
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
                check_bits(math.ceil(right * math.log2(abs(left))))
        elif operator == "+":
            if isinstance(left, REPEATED) and isinstance(right, REPEATED):
                budget.chars(len(left) + len(right), "'+'")
        elif operator == "%" and isinstance(left, str):
            check_printf(left, right)
            for arg in right if isinstance(right, tuple) else (right,):
                check_text(arg, "'%'")
        return self.binop_table[operator](left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = current()
        budget.step()
        if isinstance(__obj, LoopContext) and args:  # a recursive loop's ``loop(...)``
            args = (_counted(args[0]), *args[1:])
        else:
            target = getattr(__obj, "__wrapped__", __obj)
            owner = getattr(target, "__self__", None)
            if isinstance(owner, str):
                name = getattr(target, "__name__", "")
                if name == "join" and args:
                    return joined(owner, args[0])
                estimate = STR_ESTIMATES.get(name)
                if estimate is not None:
                    budget.chars(estimate(owner, args, kwargs), f"str.{name}")
        return super().call(__context, __obj, *args, **kwargs)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return policy.safe_attribute(obj, attr, value) and super().is_safe_attribute(
            obj, attr, value
        )

    def is_safe_callable(self, obj: Any) -> bool:
        return policy.safe_callable(obj) and super().is_safe_callable(obj)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        # Jinja's own wrapper, with the bounded formatter: every field's resolved
        # spec and value pass format_field, however the width was given.
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        f_self: str = value.__self__
        formatter: SandboxedFormatter = (
            BoundedEscapeFormatter(self, escape=f_self.escape)
            if isinstance(f_self, Markup)
            else BoundedFormatter(self)
        )
        is_map = value.__name__ == "format_map"
        kind = type(f_self)

        @functools.wraps(value)
        def bounded(*args: Any, **kwargs: Any) -> str:
            positional: tuple[Any, ...] = args
            named: Any = kwargs
            if is_map:
                if kwargs or len(args) != 1:
                    return wrapped(*args, **kwargs)  # Jinja raises the TypeError
                positional, named = (), args[0]
            return kind(formatter.vformat(f_self, positional, Fields(named)))

        return bounded

    def concat(self, parts: Iterable[str]) -> str:
        # Joins the text captured by a macro, a {% set %} block or a filter block.
        parts = list(parts)
        budget = current()
        budget.chars(sum(map(len, parts)), "captured text")
        budget.check_time()
        return "".join(parts)

    def join_checked(self, *parts: Any) -> str:
        """The ``~`` operator, with its result checked before it is made."""
        return joined("", parts)

    def counted(self, iterable: Any) -> Iterator[Any]:
        """A ``for`` loop's iterable, counting each step against the budget."""
        return _counted(iterable)

    def role_marker(self, role: str) -> str:
        """The marker that starts a message; only this render's nonce makes it."""
        return marker(current().nonce, role)


def _counted(iterable: Any) -> Iterator[Any]:
    budget = current()
    step = budget.step
    for item in iterable:
        step()
        yield item


def _counted_range(*args: int) -> range:
    r = safe_range(*args)
    current().step(len(r))
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
    with spending(limits) as budget:
        out: list[str] = []
        size = 0
        chunks = template.generate(variables)
        # A few chunks at a time: checking each one doubles the cost of a loop, and a
        # batch holds at most BATCH chunks of bounded size.
        while batch := list(itertools.islice(chunks, BATCH)):
            size += sum(map(len, batch))
            budget.chars(size, "the output")
            budget.check_time()
            out += batch
        return "".join(out), budget.nonce
