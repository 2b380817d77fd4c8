"""Engines for the three backends, and the bounded retry of transactions that hit a lock.

* SQLite: WAL, ``busy_timeout``, foreign keys on, and writes open with ``BEGIN IMMEDIATE``
  so that two writers queue on the lock instead of deadlocking on a read-to-write upgrade.
* MariaDB/MySQL: utf8mb4 on the connection. PostgreSQL: psycopg 3.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import time
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from convo.errors import InputError, StoreBusyError, StoreError
from convo.store._peek import default_url
from convo.store._raw import execute

__all__ = [
    "DURABILITY",
    "WRITE",
    "Durability",
    "default_url",
    "make_engine",
    "retrying",
    "store_error",
]

T = TypeVar("T")

Durability = Literal["normal", "full"]
DURABILITY: tuple[Durability, ...] = ("normal", "full")

WRITE = "convo_write"  # execution option: this transaction will write
_DRIVERS = {"postgresql": "psycopg", "mysql": "pymysql", "mariadb": "pymysql", "sqlite": "pysqlite"}

# How many times a transaction that met a lock, deadlock or serialization failure is run.
ATTEMPTS = 4


def _normalize(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        # Not echoed: a mistyped URL may still hold a password.
        raise InputError(
            "the store URL is not a database URL (e.g. sqlite:///path/to/convo.db, "
            "postgresql://user@host/db, mariadb://user@host/db)"
        ) from None
    backend = parsed.get_backend_name()
    if "+" not in parsed.drivername and backend in _DRIVERS:
        parsed = parsed.set(drivername=f"{backend}+{_DRIVERS[backend]}")
    if backend in ("mysql", "mariadb") and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed


def make_engine(
    url: str, *, busy_timeout: float, echo: bool, durability: Durability = "normal"
) -> Engine:
    if durability not in DURABILITY:
        raise InputError(f"durability is one of {', '.join(DURABILITY)}, not {durability!r}")
    parsed = _normalize(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, busy_timeout, echo, durability)
    if backend not in ("postgresql", "mysql", "mariadb"):
        raise StoreError(f"unsupported database {backend!r}: use sqlite, postgresql or mariadb")
    # Servers drop idle connections; a ping on checkout costs one round trip and saves a
    # failed turn.
    try:
        engine = create_engine(parsed, echo=echo, pool_pre_ping=True)
    except (ImportError, NoSuchModuleError):
        # SQLAlchemy reports a driver it cannot import as a missing plugin, traceback and all.
        extra = "postgres" if backend == "postgresql" else "mysql"
        raise StoreError(
            f"the database driver {parsed.drivername!r} cannot be loaded; is it installed? "
            f"(for the default one: pip install 'convo[{extra}]')"
        ) from None
    if durability == "full" and backend == "postgresql":

        @event.listens_for(engine, "connect")
        def _synchronous_commit(dbapi_connection: Any, _record: Any) -> None:
            # A server configured with synchronous_commit=off would otherwise acknowledge
            # commits before they reach the disk.
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit = on")
            dbapi_connection.commit()

    return engine


def _create_private(path: str) -> None:
    """Create the database file readable and writable by its owner only (SQLite gives its
    -wal and -shm files the same mode). An existing file keeps its mode.
    """
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _use_wal(cursor: Any, busy_timeout: float) -> None:
    """Put the database in WAL mode (a property of the file, kept once set).

    Switching needs an exclusive lock, and SQLite refuses it at once ("database is
    locked"), without waiting ``busy_timeout``, while another connection writes - as
    when several processes open a new database together and one is creating the schema.
    So the switch is tried again until ``busy_timeout`` has passed.
    """
    if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
        return
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def _sqlite_engine(url: URL, busy_timeout: float, echo: bool, durability: Durability) -> Engine:
    if url.database in (None, "", ":memory:"):
        raise StoreError("an in-memory SQLite database cannot be shared; give a file path")
    if not url.database.startswith("file:"):
        _create_private(url.database)
    synchronous = "FULL" if durability == "full" else "NORMAL"
    engine = create_engine(
        url, echo=echo, connect_args={"timeout": busy_timeout, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transactions out of the sqlite3 module's hands: the "begin" hook opens them.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        _use_wal(cursor, busy_timeout)
        # With WAL, NORMAL never corrupts and a killed process loses no committed turn;
        # only a power cut or an OS crash may lose the last few. FULL waits on the disk
        # at every commit (docs/store.md, "Durability").
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.close()
        # Case-insensitive search for every script, as PostgreSQL's ILIKE and MariaDB's
        # LOWER() do (SQLite's lower() folds ASCII only).
        dbapi_connection.create_function("convo_lower", 1, _lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        write = conn.get_execution_options().get(WRITE, False)
        # On the driver's cursor, like the hot statements: exec_driver_sql would cost
        # more than the BEGIN itself (see _raw.py).
        execute(conn, "BEGIN IMMEDIATE" if write else "BEGIN", ())

    return engine


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _lock_failure(exc: DBAPIError) -> str | None:
    """``"waited"`` for a lock that timed out, ``"retry"`` for a deadlock or serialization
    failure (reported at once, worth rerunning), else ``None``.
    """
    orig = exc.orig
    text = str(orig).lower()
    if "database is locked" in text or "database is busy" in text:
        return "waited"  # SQLite, after busy_timeout
    code = getattr(orig, "sqlstate", None)  # psycopg
    if code in ("40001", "40P01"):
        return "retry"
    args: tuple[Any, ...] = getattr(orig, "args", ())
    # MariaDB: 1213 deadlock; 1205 lock wait timeout (after innodb_lock_wait_timeout).
    if args and args[0] == 1213:
        return "retry"
    if args and args[0] == 1205:
        return "waited"
    return None


def store_error(exc: SQLAlchemyError, what: str) -> StoreError:
    """A :class:`StoreError` that says what failed without the SQL or its parameters."""
    orig = getattr(exc, "orig", None) or exc
    first = str(orig).strip().splitlines()[0] if str(orig).strip() else ""
    return StoreError(f"{what} failed: {type(orig).__name__}: {first[:300]}")


def retrying(fn: Callable[[], T], what: str) -> T:
    """Run ``fn`` (one whole transaction); rerun it after a deadlock or serialization
    failure, a bounded number of times, then raise :class:`StoreBusyError`.

    A lock that timed out (SQLite's ``busy_timeout``, MariaDB's lock wait timeout) is not
    rerun: the wait already happened, and rerunning would multiply it. Rerunning is safe
    because the failed attempt rolled back, and the version check inside the transaction
    decides again.
    """
    attempt = 0
    while True:
        try:
            return fn()
        except DBAPIError as exc:
            failure = _lock_failure(exc)
            if failure is None:
                raise store_error(exc, what) from exc
            if failure == "waited":
                raise StoreBusyError(f"{what}: the database stayed locked") from exc
            attempt += 1
            if attempt == ATTEMPTS:
                raise StoreBusyError(
                    f"{what}: the database stayed locked after {ATTEMPTS} attempts"
                ) from exc
            time.sleep(0.02 * 2**attempt * (0.5 + random.random()))
        except SQLAlchemyError as exc:
            raise store_error(exc, what) from exc
