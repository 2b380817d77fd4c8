"""Every ```python block in README.md and docs/ runs, against a real local server.

Each block runs in a fresh namespace with OPENAI_BASE_URL pointing at the test
Chat Completions server on 127.0.0.1 and CONVO_DB at a temporary SQLite file, so
examples that use the default transport and store really talk HTTP and SQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ChatServer

ROOT = Path(__file__).parent.parent
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _blocks() -> Iterator[tuple[str, str]]:
    for path in FILES:
        text = path.read_text(encoding="utf-8")
        for i, match in enumerate(BLOCK.finditer(text)):
            line = text[: match.start()].count("\n") + 1
            yield f"{path.relative_to(ROOT)}:{line}", match.group(1)
            del i


@pytest.fixture(scope="module")
def server() -> Iterator[ChatServer]:
    with ChatServer() as s:
        yield s


@pytest.mark.parametrize(("where", "code"), list(_blocks()), ids=[w for w, _ in _blocks()])
def test_doc_block_runs(
    where: str, code: str, server: ChatServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-docs-test")
    monkeypatch.setenv("CONVO_DB", f"sqlite:///{tmp_path / 'docs.db'}")
    monkeypatch.setenv("CONVO_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.chdir(ROOT)
    exec(compile(code, where, "exec"), {"__name__": "__docs__"})
