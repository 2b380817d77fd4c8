"""Engines for the three backends, and the bounded retry of transactions that hit a lock.

* SQLite: WAL, ``busy_timeout``, foreign keys on, and writes open with ``BEGIN IMMEDIATE``
  so that two writers queue on the lock instead of deadlocking on a read-to-write upgrade.
* MariaDB/MySQL: utf8mb4 on the connection. PostgreSQL: psycopg 3.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import platformdirs
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from convo.errors import StoreBusyError, StoreError
from convo.store._raw import execute

__all__ = ["WRITE", "default_url", "make_engine", "retrying", "store_error"]

T = TypeVar("T")

WRITE = "convo_write"  # execution option: this transaction will write
_DRIVERS = {"postgresql": "psycopg", "mysql": "pymysql", "mariadb": "pymysql", "sqlite": "pysqlite"}

# How many times a transaction that met a lock, deadlock or serialization failure is run.
ATTEMPTS = 4


def default_url() -> str:
    """``CONVO_DB`` if set, else a SQLite file in the user's data directory."""
    url = os.environ.get("CONVO_DB")
    if url:
        return url
    directory = Path(platformdirs.user_data_dir("convo"))
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory / 'convo.db'}"


def _normalize(url: str) -> URL:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if "+" not in parsed.drivername and backend in _DRIVERS:
        parsed = parsed.set(drivername=f"{backend}+{_DRIVERS[backend]}")
    if backend in ("mysql", "mariadb") and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed


def make_engine(url: str, *, busy_timeout: float, echo: bool) -> Engine:
    parsed = _normalize(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, busy_timeout, echo)
    if backend not in ("postgresql", "mysql", "mariadb"):
        raise StoreError(f"unsupported database {backend!r}: use sqlite, postgresql or mariadb")
    # Servers drop idle connections; a ping on checkout costs one round trip and saves a
    # failed turn.
    return create_engine(parsed, echo=echo, pool_pre_ping=True)


def _sqlite_engine(url: URL, busy_timeout: float, echo: bool) -> Engine:
    if url.database in (None, "", ":memory:"):
        raise StoreError("an in-memory SQLite database cannot be shared; give a file path")
    engine = create_engine(
        url, echo=echo, connect_args={"timeout": busy_timeout, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transactions out of the sqlite3 module's hands: the "begin" hook opens them.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # With WAL, NORMAL never corrupts and a killed process loses no committed turn;
        # only a power cut may lose the last few. FULL would wait on the disk at every
        # commit (about 0.4 ms here), for a guarantee a chat history rarely needs.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        write = conn.get_execution_options().get(WRITE, False)
        # On the driver's cursor, like the hot statements: exec_driver_sql would cost
        # more than the BEGIN itself (see _raw.py).
        execute(conn, "BEGIN IMMEDIATE" if write else "BEGIN", ())

    return engine


def _is_transient(exc: DBAPIError) -> bool:
    orig = exc.orig
    text = str(orig).lower()
    if "database is locked" in text or "database is busy" in text:
        return True
    code = getattr(orig, "sqlstate", None)  # psycopg
    if code in ("40001", "40P01"):
        return True
    args: tuple[Any, ...] = getattr(orig, "args", ())
    # MariaDB: 1213 deadlock, 1205 lock wait timeout.
    return bool(args) and args[0] in (1213, 1205)


def store_error(exc: SQLAlchemyError, what: str) -> StoreError:
    """A :class:`StoreError` that says what failed without the SQL or its parameters."""
    orig = getattr(exc, "orig", None) or exc
    first = str(orig).strip().splitlines()[0] if str(orig).strip() else ""
    return StoreError(f"{what} failed: {type(orig).__name__}: {first[:300]}")


def retrying(fn: Callable[[], T], what: str) -> T:
    """Run ``fn`` (one whole transaction); rerun it on a transient lock failure, a bounded
    number of times, then raise :class:`StoreBusyError`.

    Rerunning is safe because the failed attempt rolled back, and the version check inside
    the transaction decides again.
    """
    attempt = 0
    while True:
        try:
            return fn()
        except DBAPIError as exc:
            if not _is_transient(exc):
                raise store_error(exc, what) from exc
            attempt += 1
            if attempt == ATTEMPTS:
                raise StoreBusyError(
                    f"{what}: the database stayed locked after {ATTEMPTS} attempts"
                ) from exc
            time.sleep(0.02 * 2**attempt * (0.5 + random.random()))
        except SQLAlchemyError as exc:
            raise store_error(exc, what) from exc
