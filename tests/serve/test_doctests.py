"""The examples in the docstrings of convo.serve run."""

from __future__ import annotations

import doctest
import importlib

import pytest

pytest.importorskip("starlette")

MODULES = ["", ".app", ".errors", ".tenants", ".sse", ".items", ".history", ".memory", ".main"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module("convo.serve" + name)
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0
