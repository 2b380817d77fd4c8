"""``convo ls``'s quick read of a SQLite store (``convo.store._peek``): the same rows as
``SQLStore.list``, the same SELECT, and ``None`` (the long way) for every other case."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.dialects import sqlite as sqlite_dialect

from convo.messages import Message
from convo.store import _listing
from convo.store._peek import _LISTING, Listed, peek
from convo.store.sql import SQLStore
from tests.store.helpers import create


def _fill(url: str) -> list[str]:
    with SQLStore(url) as store:
        ids = [create(store, title=None if i % 3 else f"t{i}") for i in range(12)]
        ids.append(create(store, turn=[Message.system("only a system message")]))  # no preview
        store.delete(ids.pop(4))
        store.set_title(ids[7], "renamed ☃")
    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:  # ties in updated_at: the id breaks them
        conn.execute(
            "UPDATE convo_conversations SET updated_at = '2026-01-01 10:00:00.000000'"
            " WHERE id IN (?, ?, ?)",
            (ids[1], ids[2], ids[9]),
        )
    return ids  # the 12 listed


@pytest.mark.parametrize("limit", [0, 1, 5, 20, 100])
def test_the_rows_are_the_stores(tmp_path: Path, limit: int) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    _fill(url)
    with SQLStore(url) as store:
        expected = [Listed(**s.model_dump()) for s in store.list(limit=limit)]
    assert peek(url, limit=limit) == expected
    assert len(expected) == min(limit, 12)


def test_the_select_is_the_listings(tmp_path: Path) -> None:
    # One decision: the quick SELECT is the store's listing query without filters.
    q = _listing.query(
        "sqlite", limit=20, offset=0, title=None, text=None, metadata=None, before=None
    )
    compiled = str(q.compile(dialect=sqlite_dialect.dialect()))
    plain = re.sub(r"\s+", " ", compiled.replace("convo_conversations.", "")).strip()
    assert plain.replace(" OFFSET ?", "") == _LISTING


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://localhost/convo",
        "mysql+pymysql://root@127.0.0.1/test",
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite+pysqlite:///x.db",
        "sqlite:///x.db?timeout=5",
    ],
)
def test_other_databases_go_the_long_way(url: str) -> None:
    assert peek(url, limit=5) is None


def test_a_missing_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "none.db"
    assert peek(f"sqlite:///{path}", limit=5) is None
    assert not path.exists()


def test_another_schema_revision_goes_the_long_way(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    _fill(url)
    path = tmp_path / "c.db"
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE convo_alembic_version SET version_num = '0005'")
    assert peek(url, limit=5) is None


@pytest.mark.parametrize("content", [b"", b"not a database at all" * 100])
def test_a_file_that_is_not_a_store_goes_the_long_way(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "c.db"
    path.write_bytes(content)
    assert peek(f"sqlite:///{path}", limit=5) is None
    assert path.read_bytes() == content  # read-only


def test_the_default_url_is_the_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("CONVO_DB", url)
    ids = _fill(url)
    listed = peek(None, limit=50)
    assert listed is not None and sorted(c.id for c in listed) == sorted(ids)


def test_convo_ls_prints_the_same_either_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from convo import store
    from convo.cli import cli

    url = f"sqlite:///{tmp_path / 'c.db'}"
    _fill(url)
    runner = CliRunner()
    quick = runner.invoke(cli, ["ls", "--db", url, "--limit", "50"], catch_exceptions=False)
    monkeypatch.setattr(store, "peek", lambda *a, **k: None)
    slow = runner.invoke(cli, ["ls", "--db", url, "--limit", "50"], catch_exceptions=False)
    assert quick.exit_code == slow.exit_code == 0
    assert quick.stdout == slow.stdout and len(quick.stdout.splitlines()) == 12


def test_convo_ls_imports_no_sqlalchemy(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    _fill(url)
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: print(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('sqlalchemy', 'alembic', 'pydantic', 'tiktoken'))))\n"
        "from convo.cli import main\n"
        "sys.argv = ['convo', 'ls']\n"
        "main()\n"
    )
    env = {**os.environ, "CONVO_DB": url}
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    lines = out.stdout.splitlines()
    assert len(lines) == 13 and lines[-1] == "[]", out.stdout
