"""Every ```python block in README.md and docs/ runs, against a real local server.

The blocks of one file run in order in one namespace, like a reader going down the
page. OPENAI_BASE_URL points at the test Chat Completions server on 127.0.0.1 (as
does the docs' example address http://localhost:8080/v1) and CONVO_DB at a temporary
SQLite file, so examples that use the default transport and store really talk HTTP
and SQL.
"""

from __future__ import annotations

import gc
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from convo import Conversation, SQLStore, Transport
from tests.support import ChatServer

ROOT = Path(__file__).parent.parent
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
EXAMPLE_URL = "http://localhost:8080/v1"


def _blocks(path: Path) -> list[tuple[int, str]]:
    text = path.read_text(encoding="utf-8")
    return [(text[: m.start()].count("\n") + 1, m.group(1)) for m in BLOCK.finditer(text)]


@pytest.fixture(scope="module")
def server() -> Iterator[ChatServer]:
    with ChatServer() as s:
        yield s


# Quick-start snippets leave their HTTP clients to the garbage collector, as users do.
@pytest.mark.filterwarnings(
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)
@pytest.mark.parametrize("path", [f for f in FILES if _blocks(f)], ids=lambda p: p.name)
def test_doc_blocks_run(
    path: Path, server: ChatServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-docs-test")
    monkeypatch.setenv("CONVO_DB", f"sqlite:///{tmp_path / 'docs.db'}")
    monkeypatch.setenv("CONVO_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.chdir(ROOT)
    # A real module, so that pydantic can resolve the types the blocks define.
    module = types.ModuleType("__docs__")
    monkeypatch.setitem(sys.modules, "__docs__", module)
    for line, code in _blocks(path):
        where = f"{path.relative_to(ROOT)}:{line}"
        exec(compile(code.replace(EXAMPLE_URL, server.url), where, "exec"), module.__dict__)
    for value in list(module.__dict__.values()):  # what a script's exit would release
        if isinstance(value, Conversation | Transport | SQLStore):
            value.close()
    module.__dict__.clear()
    gc.collect()
