"""Test support shared by convo's tests and benchmarks: a real local Chat Completions server."""

import importlib
import os
from types import ModuleType

import pytest

from tests.support.chatserver import (
    Answer,
    ChatServer,
    Drop,
    Events,
    Raw,
    Recorded,
    Respond,
    error,
    html_page,
    refusal,
)


def require(module: str, reason: str) -> ModuleType:
    """Import ``module``; skip the test locally if it is missing, but fail in CI (CI=true).

    CI installs everything the README's test command names, so a missing module
    there is a broken install, never a reason to skip.
    """
    if os.environ.get("CI"):
        return importlib.import_module(module)
    return pytest.importorskip(module, reason=reason)


__all__ = [
    "Answer",
    "ChatServer",
    "Drop",
    "Events",
    "Raw",
    "Recorded",
    "Respond",
    "error",
    "html_page",
    "refusal",
    "require",
]
