"""Limits that hold through Jinja's own extension points: every resolved format width,
only the str methods a prompt needs, sizes checked before a repetition or a container's
text is made, and dangerous values (modules, os-level callables) inert."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from convo.errors import TemplateLimitError, TemplateSecurityError
from convo.templates import Limits, Template

LIMITS = Limits(max_chars=1_000_000, max_steps=100_000, timeout=5.0)

# Each one allocated far past max_chars on main before its check (or had none).
BYPASSES = [
    "{{ '{:{w}}'.format('x', w='99999999') }}",  # a width given as a string
    "{{ '{0:{1[w]}}'.format('x', {'w': 99999999}) }}",  # a width by item access
    "{{ '{0:{1.w}}'.format('x', ns) }}",  # a width by attribute
    "{{ '{:.99999999f}'.format(1.5) }}",  # a precision
    "{{ '{x:>{w}}'.format_map({'x': 1, 'w': 99999999}) }}",
    "{{ data * 99999999 }}",  # bytes repeated
    "{{ [big] * 1000 }}",  # a list of 1,000 items that prints as 100 MB
    "{{ ([big] * 1000)|string }}",
    "{{ ([big] * 1000)|pprint }}",
    "{{ '%s' % ([big] * 1000,) }}",
    "{{ '{}'.format([big] * 1000) }}",
    "{{ '{!r}'.format([big] * 1000) }}",
    "{{ [big] * 1000 ~ '' }}",
    "{{ ([big] * 1000)|tojson }}",
    "{{ {'k': [big] * 1000} }}",
    "{{ {'k': [big] * 1000}.items() }}",
    "{% set xs = [big] * 1000 %}{{ xs|join }}",
]


class _NS:
    w = 99999999


@pytest.mark.parametrize("source", BYPASSES)
def test_bypasses_end_with_a_limit_error_before_the_allocation(source: str) -> None:
    t = Template(source, name="bomb", limits=LIMITS)
    tracemalloc.start()
    try:
        with pytest.raises(TemplateLimitError, match="template 'bomb'"):
            t.render(big="b" * 100_000, data=b"x" * 10, ns=_NS())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * LIMITS.max_chars  # bounded: not the 100 MB the payload asks for


def test_a_prompt_may_still_format_and_print() -> None:
    t = Template(
        "[{{ '{:>6}|{:.2f}|{w}'.format('ab', 3.14159, w=1) }} {{ items }} {{ '%-4s|' % 'x' }}"
        " {{ 'a,b'.split(',') }} {{ d }} {{ '{x}'.format_map(d) }}"
    )
    assert t.render(items=[1, "two"], d={"x": 1}) == (
        "[    ab|3.14|1 [1, 'two'] x   | ['a', 'b'] {'x': 1} 1"
    )


class _Lookup:
    """A valid format_map argument that is not a dict (it has no .values())."""

    def __getitem__(self, key: str) -> str:
        return key.upper()


def test_format_map_with_a_non_mapping_argument() -> None:
    assert Template("{{ '{a}-{b}'.format_map(m) }}").render(m=_Lookup()) == "A-B"


# -- the str methods a prompt needs ----------------------------------------------------


@pytest.mark.parametrize(
    "method",
    ["upper()", "strip()", "split(',')", "replace('a', 'b')", "startswith('a')",
     "title()", "join(['x', 'y'])", "zfill(3)", "removeprefix('a')", "splitlines()"],
)  # fmt: skip
def test_the_str_methods_a_prompt_needs_are_allowed(method: str) -> None:
    Template("{{ 'a,b'." + method + " }}").render()


@pytest.mark.parametrize("method", ["encode()", "maketrans('a', 'b')"])
def test_other_str_methods_are_refused(method: str) -> None:
    with pytest.raises(TemplateSecurityError, match="unsafe"):
        Template("{{ 'abc'." + method + " }}").render()


@pytest.mark.parametrize("method", ["center(99999999)", "decode()", "hex()"])
def test_bytes_methods_are_refused(method: str) -> None:
    with pytest.raises(TemplateSecurityError, match="'bytes' object is unsafe"):
        Template("{{ data." + method + " }}").render(data=b"x")


# -- dangerous values stay inert -------------------------------------------------------

DANGEROUS: list[tuple[str, Any]] = [
    ("{{ v.system('echo pwned') }}", os),
    ("{{ v.getcwd() }}", os),
    ("{{ v.path.join('a', 'b') }}", os),
    ("{{ v('echo pwned') }}", os.system),
    ("{{ v(['echo', 'pwned']) }}", subprocess.run),
    ("{{ v('/tmp/nothing') }}", shutil.rmtree),
    ("{{ v.modules }}", sys),
    ("{{ v('/etc/passwd').read() }}", open),
    ("{{ v('1+1') }}", eval),
    ("{{ v('os') }}", __import__),
    ("{{ v.__self__ }}", os.system),
    ("{{ v.unlink() }}", Path("/nonexistent/convo-test")),
    ("{{ v(1, 'real') }}", getattr),
]


@pytest.mark.parametrize(("source", "value"), DANGEROUS)
def test_modules_and_os_level_callables_are_inert(source: str, value: Any) -> None:
    with pytest.raises(TemplateSecurityError):
        Template(source).render(v=value)


def test_a_module_may_still_be_printed_harmlessly() -> None:
    assert Template("{{ v is defined }}").render(v=os) == "True"
