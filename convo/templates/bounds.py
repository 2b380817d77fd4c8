"""The bounds of one render: what it has spent, and the size checks made before an
allocation (see :mod:`convo.templates.sandbox`, which applies them).

>>> text_size(["ab"] * 3, 100)
20
"""

from __future__ import annotations

import functools
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, MappingView
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

import jinja2
from jinja2.filters import make_attrgetter
from jinja2.sandbox import SandboxedFormatter
from markupsafe import EscapeFormatter

from convo.errors import TemplateLimitError

__all__ = [
    "BATCH",
    "FILTER_BOUNDS",
    "REPEATED",
    "STR_ESTIMATES",
    "BoundedEscapeFormatter",
    "BoundedFormatter",
    "Fields",
    "Limits",
    "check_bits",
    "check_printf",
    "check_text",
    "current",
    "finalize",
    "guarded",
    "join_filter",
    "joined",
    "spending",
    "text_size",
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


def current() -> _Budget:
    # Outside render() (a compiled template used directly) each check gets a fresh
    # default budget: size checks still hold, steps and time do not accumulate.
    return _active.get() or _Budget(Limits())


@contextmanager
def spending(limits: Limits) -> Iterator[_Budget]:
    budget = _Budget(limits)
    token = _active.set(budget)
    try:
        yield budget
    finally:
        _active.reset(token)


# -- size estimates, made before the allocation ---------------------------------------

_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\d+|\*)?(?:\.(\d+|\*))?")
BATCH = 32
_INT_BITS = 1 << 16  # far past any number a prompt prints (Python refuses 4,300+ digits)


def check_printf(fmt: str, args: Any) -> None:
    budget = current()
    for width, precision in _PRINTF.findall(fmt):
        for number in (width, precision):
            if number == "*":
                values = args if isinstance(args, tuple) else (args,)
                for value in values:
                    if isinstance(value, int):
                        budget.chars(value, "a format width")
            elif number:
                budget.chars(int(number), "a format width")


_SPEC_NUMBER = re.compile(r"\d+")
_DEPTH = 32  # containers nested deeper are counted as their first levels
_CONTAINERS = (list, tuple, set, frozenset, dict, MappingView)


def text_size(value: Any, limit: int, depth: int = 0) -> int:
    """About how many characters ``str(value)`` makes, for the built-in containers and
    strings; counting stops once past ``limit``, so it costs at most ``limit`` steps.

    >>> text_size(["ab"] * 3, 100)
    20
    """
    if isinstance(value, str | bytes | bytearray):
        return len(value) + (2 if depth else 0)  # quoted inside a container
    if depth > _DEPTH or not isinstance(value, _CONTAINERS):
        return 8 if depth else 0  # a number or another object: small, or not ours to bound
    total = 2
    # every dict view iterates, though typeshed's MappingView does not say so
    items = value.items() if isinstance(value, dict) else cast(Iterable[Any], value)
    for item in items:
        total += 2 + text_size(item, limit - total, depth + 1)
        if total > limit:
            break
    return total


def check_text(value: Any, what: str) -> None:
    """A container's text is checked before it is made (a string's length is known)."""
    if isinstance(value, _CONTAINERS):
        budget = current()
        budget.chars(text_size(value, budget.limits.max_chars), what)


class BoundedFormatter(SandboxedFormatter):
    """The sandbox's formatter, checking each field once its spec is resolved."""

    def format_field(self, value: Any, format_spec: str) -> Any:
        budget = current()
        for number in _SPEC_NUMBER.findall(format_spec):
            budget.chars(int(number) if len(number) < 12 else 10**12, "a format width")
        check_text(value, "str.format")
        return super().format_field(value, format_spec)

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        check_text(value, "str.format")
        return super().convert_field(value, conversion)


class BoundedEscapeFormatter(BoundedFormatter, EscapeFormatter):
    pass


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
STR_ESTIMATES: dict[str, Callable[[str, tuple[Any, ...], Mapping[str, Any]], int]] = {
    "center": _width,
    "ljust": _width,
    "rjust": _width,
    "zfill": _width,
    "expandtabs": _tabs,
    "replace": _replace,
    "translate": _translate,
}


def joined(sep: str, items: Iterable[Any]) -> str:
    parts = []
    for item in items:
        check_text(item, "join")
        parts.append(str(item))
    current().chars(sum(map(len, parts)) + len(sep) * max(len(parts) - 1, 0), "join")
    return sep.join(parts)


# -- filters that amplify, guarded -----------------------------------------------------


def guarded(func: Callable[..., Any], estimate: Callable[..., int], what: str) -> Any:
    skip = 1 if hasattr(func, "jinja_pass_arg") else 0

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        value, rest = args[skip], args[skip + 1 :]
        current().chars(estimate(value, rest, kwargs), f"the {what} filter")
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
    check_printf(s, args)
    for arg in (*args, *kwargs.values()):
        check_text(arg, "the format filter")
    return len(s)


def _text_size(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    return text_size(value, current().limits.max_chars)


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
    spaces = indent * 10_000 if isinstance(indent, int) else 0
    return max(spaces, text_size(value, current().limits.max_chars))


def _center_size(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    return _width(_text(value), args, kwargs)


def _replace_size(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    return _replace(_text(value), args, kwargs)


@jinja2.pass_environment
def join_filter(
    env: jinja2.Environment, value: Iterable[Any], d: str = "", attribute: Any = None
) -> str:
    if attribute is not None:
        value = map(make_attrgetter(env, attribute), value)
    return joined(str(d), value)


FILTER_BOUNDS = {
    "center": _center_size,
    "indent": _indent_size,
    "wordwrap": _wordwrap_size,
    "format": _format_size,
    "replace": _replace_size,
    "batch": _batch_size,
    "slice": _slice_size,
    "tojson": _tojson_size,
    # filters that print a value whole: its text is checked before it is made
    "string": _text_size,
    "pprint": _text_size,
    "e": _text_size,
    "escape": _text_size,
    "forceescape": _text_size,
    "safe": _text_size,
    "upper": _text_size,
    "lower": _text_size,
    "title": _text_size,
    "capitalize": _text_size,
    "trim": _text_size,
    "truncate": _text_size,
    "urlencode": _text_size,
}

REPEATED = (str, bytes, bytearray, list, tuple)


class Fields(Mapping[str, Any]):
    """``format_map``'s argument as the formatter reads it: only by key (a valid
    argument need not be a dict, nor have ``.values()``)."""

    __slots__ = ("_of",)

    def __init__(self, of: Any) -> None:
        self._of = of

    def __getitem__(self, key: str) -> Any:
        return self._of[key]

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def finalize(value: Any) -> Any:
    # Every {{ }} passes here before it is made text.
    check_text(value, "printing a value")
    return value


def check_bits(bits: int) -> None:
    if bits > _INT_BITS:
        raise TemplateLimitError(
            f"a number of about {bits:,} bits is over the {_INT_BITS:,}-bit limit"
        )
