"""The ``store`` fixture: every test here runs against SQLite (a WAL file), PostgreSQL and
MariaDB, each in a fresh, empty database. The test id names the backend.

Server URLs come from ``CONVO_TEST_POSTGRES`` and ``CONVO_TEST_MARIADB`` (defaults: the
local servers of DEVELOPERS.md). A server that does not answer skips its tests locally,
with the reason; under CI (``CI=true``) it fails them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from convo.store.sql import SQLStore

SERVERS = {
    "postgresql": os.environ.get(
        "CONVO_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
    "mariadb": os.environ.get(
        "CONVO_TEST_MARIADB", "mariadb+pymysql://root@127.0.0.1:3306/test?charset=utf8mb4"
    ),
}
BACKENDS = ["sqlite", *SERVERS]
_down: dict[str, str | None] = {}


def _unavailable(backend: str) -> str | None:
    if backend not in _down:
        engine = create_engine(SERVERS[backend])
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            _down[backend] = None
        except Exception as exc:  # any failure to connect means "not answering"
            _down[backend] = f"{backend} at {engine.url!r} does not answer: {exc}"
        finally:
            engine.dispose()
    return _down[backend]


def _require(backend: str) -> None:
    reason = _unavailable(backend)
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI needs every backend: {reason}")
    pytest.skip(reason)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of a fresh, empty database on the backend named by the test id."""
    backend: str = request.param
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'convo.db'}"
        return
    _require(backend)
    name = f"convo_t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(SERVERS[backend], isolation_level="AUTOCOMMIT")
    extra = " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin" if backend == "mariadb" else ""
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}{extra}"))
    try:
        yield make_url(SERVERS[backend]).set(database=name).render_as_string(hide_password=False)
    finally:
        force = " WITH (FORCE)" if backend == "postgresql" else ""
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}{force}"))
        admin.dispose()


@pytest.fixture
def store(db_url: str) -> Iterator[SQLStore]:
    with SQLStore(db_url) as s:
        yield s
