"""Hot statements run on the driver's cursor, inside the transaction SQLAlchemy opened.

SQLAlchemy's ``Connection.execute`` costs about 45 us per statement here (events,
compiled-cache lookup, result setup), eight times what SQLite takes to run a small
INSERT. The statements of a turn and of a load are fixed, so each is compiled once per
dialect to a SQL string (the dialect picks the parameter style: qmark for SQLite,
pyformat for psycopg and PyMySQL) and run with the DBAPI cursor of the connection that
holds the transaction. Atomicity is untouched: the transaction is SQLAlchemy's, begun,
committed and rolled back by it.

What is kept from SQLAlchemy's path: bind and result type processing (SQLite stores
timestamps as text), ``before_cursor_execute``/``after_cursor_execute`` listeners (so
instrumentation and the store's failure-injection tests see every statement), driver
errors wrapped as :class:`sqlalchemy.exc.DBAPIError` (so the retry on locks works and
a dropped connection is invalidated), and ``echo`` logging of the SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, cast

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement, Select
from sqlalchemy.sql.compiler import SQLCompiler

__all__ = ["Statement", "execute"]

Processor = Callable[[Any], Any]


class _Compiled(NamedTuple):
    sql: str
    # Values the statement carries itself (the 1 of ``version + 1``).
    fixed: dict[str, Any]
    # Positional dialects take a tuple in this order; named ones take the dict.
    order: tuple[str, ...] | None
    binds: tuple[tuple[str, Processor], ...]
    results: tuple[tuple[int, Processor], ...]


class Statement:
    """A Core statement, compiled once per dialect and run on the DBAPI cursor.

    ``column_keys`` names the columns an INSERT or UPDATE sets from parameters.
    """

    def __init__(self, statement: ClauseElement, *, column_keys: Sequence[str] = ()):
        self._statement = statement
        self._keys = list(column_keys)
        self._by_dialect: dict[tuple[Any, ...], _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = cast(
            SQLCompiler,
            self._statement.compile(dialect=dialect, column_keys=self._keys or None),
        )
        sql = compiled.string
        fixed = {name: bind.value for name, bind in compiled.binds.items() if not bind.required}
        if "POSTCOMPILE" in sql:
            raise AssertionError("a raw statement cannot hold post-compile parameters")
        binds = []
        for name, bind in compiled.binds.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                binds.append((name, process))
        results = []
        if isinstance(self._statement, Select):
            for i, column in enumerate(self._statement.selected_columns):
                process = column.type.dialect_impl(dialect).result_processor(dialect, None)
                if process is not None:
                    results.append((i, process))
        order = tuple(compiled.positiontup or ()) if dialect.positional else None
        return _Compiled(sql, fixed, order, tuple(binds), tuple(results))

    def _for(self, dialect: Dialect) -> _Compiled:
        # Keyed by everything that changes the SQL text or its parameter handling: one
        # key per backend, driver and paramstyle a process talks to.
        key = (dialect.name, dialect.driver, dialect.paramstyle, dialect.server_version_info)
        compiled = self._by_dialect.get(key)
        if compiled is None:
            compiled = self._by_dialect[key] = self._compile(dialect)
        return compiled

    def run(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Execute with ``params`` (by bind name); returns the DBAPI cursor."""
        c = self._for(conn.dialect)
        if c.fixed:
            params = {**c.fixed, **params}
        if c.binds:
            params = dict(params)
            for name, process in c.binds:
                params[name] = process(params[name])
        args: Any = params if c.order is None else tuple([params[n] for n in c.order])
        return execute(conn, c.sql, args)

    def run_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> Any:
        """Execute once for each of ``rows`` in one DBAPI ``executemany`` (SQLite loops
        in C; PyMySQL sends one multi-row INSERT; psycopg pipelines); returns the cursor.
        """
        c = self._for(conn.dialect)
        batch = []
        for params in rows:
            params = {**c.fixed, **params} if c.fixed else dict(params)
            for name, process in c.binds:
                params[name] = process(params[name])
            batch.append(params if c.order is None else tuple([params[n] for n in c.order]))
        return execute(conn, c.sql, batch, many=True)

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        """All result rows, as tuples in the statement's column order."""
        c = self._for(conn.dialect)
        rows: list[Any] = self.run(conn, params).fetchall()
        if c.results and rows:
            rows = [list(r) for r in rows]
            for row in rows:
                for i, process in c.results:
                    row[i] = process(row[i])
        return rows


def execute(conn: Connection, sql: str, args: Any, *, many: bool = False) -> Any:
    """Run ``sql`` on a new cursor of ``conn``'s DBAPI connection (``executemany`` over
    the sequence ``args`` when ``many``); returns the cursor."""
    dbapi_connection = conn.connection.dbapi_connection
    assert dbapi_connection is not None  # an open Connection always holds one
    cursor = dbapi_connection.cursor()
    # The same listener protocol and test as Connection.execute: a listener may rewrite
    # the statement (retval=True); plain listeners are wrapped to return their input.
    # The flags are what SQLAlchemy itself checks; asking the joined listener collections
    # instead costs ~8 us a statement.
    listening = conn._has_events or conn.engine._has_events
    dispatch = conn.dispatch
    if listening:
        for before in dispatch.before_cursor_execute:
            sql, args = before(conn, cursor, sql, args, None, many)
    if conn.engine.echo:
        conn.engine.logger.info(sql)
    try:
        if many:
            cursor.executemany(sql, args)
        else:
            cursor.execute(sql, args)
    except conn.dialect.loaded_dbapi.Error as exc:
        gone = conn.dialect.is_disconnect(exc, dbapi_connection, cursor)
        if gone:
            conn.invalidate(exc)
        raise DBAPIError.instance(
            sql,
            None,  # parameters never go into errors: they are the user's messages
            exc,
            conn.dialect.loaded_dbapi.Error,
            connection_invalidated=gone,
            dialect=conn.dialect,
        ) from exc
    if listening:
        for after in dispatch.after_cursor_execute:
            after(conn, cursor, sql, args, None, many)
    return cursor
