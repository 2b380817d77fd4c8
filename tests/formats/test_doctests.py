"""The examples in the new modules' docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

from tests.support import require

MODULES = [
    "convo.transports.formats",
    "convo.transports.responses",
    "convo.transports.fallback",
    "convo_anthropic.format",
    "convo_anthropic.transport",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name: str) -> None:
    if name.startswith("convo_anthropic"):
        require(name, "needs convo-anthropic")
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted and not result.failed
