"""How much SQLStore costs over the raw driver on PostgreSQL (psycopg 3) and MariaDB
(PyMySQL), doing the same work. Prints ratios; asserts nothing.

    python benchmarks/bench_store_servers.py [--rounds 5] [--turns 100] [--messages 10000]
        [--postgresql URL] [--mariadb URL] [--only postgresql|mariadb] [--shared]

The servers come from ``CONVO_BENCH_POSTGRES`` / ``CONVO_BENCH_MARIADB`` (else the tests'
``CONVO_TEST_POSTGRES`` / ``CONVO_TEST_MARIADB``, else the local servers of the tests:
``postgresql+psycopg://postgres@127.0.0.1:5432/test``,
``mariadb+pymysql://root@127.0.0.1:3306/test``). A server that does not answer is
reported and skipped. Each run makes a private database on the server (as the tests do:
``convo_bench_<hex>``) and drops it at the end, so the schema is the one this checkout's
migrations make, whatever version other checkouts migrated the shared database to; with
``--shared`` (or when the server refuses ``CREATE DATABASE``) it runs in the URL's own
database instead, where the store creates or finds its schema. Either way the benchmark
adds conversations with unique ids (``bench-...``) and deletes them at the end, and
drops no table.

Work measured (paired per round; each round's ratio is store time / floor time):

* append: one turn (user + assistant) per commit through ``SQLStore.append_turn``. The
  floor is the raw driver on one connection (autocommit off, an explicit commit per
  turn) running, on the store's schema, the statements the store sends for a turn (read
  from ``before_cursor_execute``): the version check (PostgreSQL: ``UPDATE ... RETURNING
  message_count``; MariaDB, which has no ``UPDATE ... RETURNING``: the ``UPDATE``, then a
  ``SELECT``), the messages in one ``executemany`` (psycopg pipelines it, PyMySQL sends
  one multi-row ``INSERT``), the turn row, the conversation's count and preview. Both
  sides use the server's default durability (``synchronous_commit`` /
  ``innodb_flush_log_at_trx_commit``, printed). Turns run in chunks of 10, the two sides
  alternating, so that load drift hits both.
* load: one 10,000-message conversation, whole and its last 100, both sides reading the
  *same* conversation (written by the store), each three times a round in rotating
  order. Two floors: the store's three reads (the
  conversation row, its segments, the message range) in one transaction, fetching the
  rows; and that plus building ``Message`` values the plain way
  (``Message.model_validate`` and ``json.loads`` of the token counts), as
  ``bench_store.py`` does on SQLite.

Also printed: one round trip on the floor's connection (``SELECT 1``), the unit most of
a server-side ratio is made of. The store's engine pings on every checkout
(``pool_pre_ping``), one round trip the floor does not make.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from secrets import token_hex
from typing import Any

# This checkout's convo, not an installed one (run.py sets PYTHONPATH the same way).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.engine import make_url

from convo.messages import Message
from convo.store import ConversationHeader, SQLStore, TurnMeta

DEFAULT_URLS = {
    "postgresql": os.environ.get("CONVO_BENCH_POSTGRES")
    or os.environ.get("CONVO_TEST_POSTGRES")
    or "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "mariadb": os.environ.get("CONVO_BENCH_MARIADB")
    or os.environ.get("CONVO_TEST_MARIADB")
    or "mariadb+pymysql://root@127.0.0.1:3306/test?charset=utf8mb4",
}
CHUNK = 10  # turns per interleaved slice of the append case
LOAD_REPS = 3  # each load per round (their mean is the round's time)


def _turn(n: int) -> list[Message]:
    """The turn bench_store.py appends: ~100 and ~300 characters, token counts cached."""
    user, reply = Message.user(f"question {n} " * 8), Message.assistant(f"answer {n} " * 30)
    user._tokens["o200k_base"] = 17
    reply._tokens["o200k_base"] = 61
    return [user, reply]


def _now() -> datetime:
    # As the store writes timestamps: naive UTC.
    return datetime.now(UTC).replace(tzinfo=None)


def _bench_id() -> str:
    return f"bench-{uuid.uuid4().hex}"


# -- the floors: the raw driver, SQL written by hand from what the store sends ----------

_CONVERSATION_COLUMNS = (
    "id, model, {system}, template_name, template_hash, template_source, variables, params,"
    " title, metadata_json, forked_from, version, message_count, preview, deleted,"
    " created_at, updated_at"
)


class Floor:
    """One raw DBAPI connection, autocommit off: a transaction per turn or load, ended
    with ``commit()``. Subclasses give the backend's SQL (both drivers take ``%s``)."""

    backend = ""
    not_deleted = ""
    system = "system"
    # The version check: PostgreSQL reads the count in the UPDATE (RETURNING).
    bump = ""
    tip = ""  # MariaDB's SELECT of the count after the UPDATE
    insert_message = ""
    insert_turn = ""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.log: list[str] | None = None  # the statements' shapes, when checking them
        self.advance = (
            "UPDATE convo_conversations SET message_count = %s,"
            " preview = coalesce(preview, %s) WHERE id = %s"
        )
        self.read_conversation = (
            f"SELECT {_CONVERSATION_COLUMNS.format(system=self.system)}"
            f" FROM convo_conversations WHERE id = %s AND {self.not_deleted}"
        )
        self.read_segments = (
            "SELECT source_id, lo, hi FROM convo_segments WHERE conversation_id = %s ORDER BY lo"
        )
        self.read_messages = (
            "SELECT id, role, text, parts, name, tool_calls, tool_call_id, refusal, tokens"
            " FROM convo_messages WHERE conversation_id = %s AND seq >= %s AND seq < %s"
            " ORDER BY seq"
        )

    def create(self, cid: str) -> None:
        """A conversation as the store creates one: its row and its own segment."""
        now = _now()
        cur = self.conn.cursor()
        cur.execute(
            "INSERT INTO convo_conversations (id, variables, params, metadata_json, version,"
            " message_count, deleted, created_at, updated_at)"
            " VALUES (%s, '{}', '{}', '{}', 0, 0, %s, %s, %s)",
            (cid, False, now, now),
        )
        cur.execute(
            "INSERT INTO convo_segments (conversation_id, source_id, lo, hi)"
            " VALUES (%s, %s, 0, NULL)",
            (cid, cid),
        )
        self.conn.commit()

    def _count(self, cur: Any, cid: str, version: int, now: datetime) -> int:
        raise NotImplementedError

    def cursor(self) -> Any:
        cur = self.conn.cursor()
        return cur if self.log is None else _LoggingCursor(cur, self.log)

    def append(self, cid: str, version: int, messages: Sequence[Message]) -> int:
        """One turn in one transaction; returns the new version."""
        now = _now()
        cur = self.cursor()
        count = self._count(cur, cid, version, now)
        cur.executemany(
            self.insert_message,
            [
                # Each message gets a fresh random key, as the store gives it.
                (cid, count + i, m.role, m.content, json.dumps(m._tokens), now, token_hex(12))
                for i, m in enumerate(messages)
            ],
        )
        cur.execute(self.insert_turn, (cid, version + 1, count, len(messages), now))
        cur.execute(self.advance, (count + len(messages), messages[0].text[:200], cid))
        self.conn.commit()
        return version + 1

    def rows(self, cid: str, tail: int | None = None) -> list[tuple[Any, ...]]:
        """The store's three reads in one transaction: conversation, segments, messages."""
        cur = self.cursor()
        cur.execute(self.read_conversation, (cid,))
        header = cur.fetchone()
        count = header[12]  # message_count
        start = 0 if tail is None else max(0, count - tail)
        cur.execute(self.read_segments, (cid,))
        rows: list[tuple[Any, ...]] = []
        for source, lo, hi in cur.fetchall():
            lo, hi = max(lo, start), count if hi is None else min(hi, count)
            if lo < hi:
                cur.execute(self.read_messages, (source, lo, hi))
                rows.extend(cur.fetchall())
        self.conn.commit()
        return rows

    def messages(self, cid: str, tail: int | None = None) -> list[Message]:
        """The rows as validated ``Message`` values, the plain way (pydantic + json)."""
        out = []
        for _id, role, text, _parts, _name, _calls, _call_id, _refusal, tokens in self.rows(
            cid, tail
        ):
            m = Message.model_validate({"role": role, "content": text})
            m._tokens.update(json.loads(tokens))
            out.append(m)
        return out

    def round_trip(self, n: int = 50) -> float:
        """Seconds per ``SELECT 1`` on this connection (in a transaction, then commit)."""
        cur = self.conn.cursor()
        start = time.perf_counter()
        for _ in range(n):
            cur.execute("SELECT 1")
            cur.fetchone()
        elapsed = time.perf_counter() - start
        self.conn.commit()
        return elapsed / n

    def close(self) -> None:
        self.conn.close()


class _LoggingCursor:
    """A cursor that records the shape of what it runs (only while checking)."""

    def __init__(self, cursor: Any, log: list[str]) -> None:
        self._cursor, self._log = cursor, log

    def execute(self, sql: str, args: Any = None) -> Any:
        self._log.append(shape(sql, many=False))
        return self._cursor.execute(sql, args)

    def executemany(self, sql: str, args: Any) -> Any:
        self._log.append(shape(sql, many=True))
        return self._cursor.executemany(sql, args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def shape(sql: str, *, many: bool) -> str:
    """A statement's verb, table, columns and RETURNING, e.g.
    ``INSERT convo_turns (conversation_id, version, ...) RETURNING``: what the floor must
    send alike (the columns an INSERT sets, the columns a SELECT reads)."""
    flat = " ".join(sql.replace("`", "").replace('"', "").split())
    upper = flat.upper()
    verb = upper.split()[0]
    columns = ""
    if verb == "SELECT":
        selected, rest = flat[7:].split(" FROM ", 1)
        table = rest.split()[0]
        names = [c.strip().rsplit(".", 1)[-1] for c in selected.split(",")]
        columns = f" ({', '.join(names)})"
    elif verb == "INSERT":
        table = flat.split()[2]
        columns = " (" + flat.split("(", 1)[1].split(")", 1)[0].replace(" ", "") + ")"
        columns = columns.replace(",", ", ")
    elif verb == "DELETE":
        table = flat.split()[2]
    else:
        table = flat.split()[1]
    returning = " RETURNING" if " RETURNING " in upper else ""
    return f"{verb} {table}{columns}{returning}{' (many)' if many else ''}"


def check_statements(url: str, floor: Floor) -> list[str]:
    """Compare the statements the store sends for a turn and a load (captured with
    ``before_cursor_execute`` on a store of its own, so the measured store carries no
    listener) with the floor's; returns the lines to print."""
    from sqlalchemy import event

    probe = SQLStore(url)
    seen: list[str] = []

    def before(_c: Any, _cur: Any, sql: str, _args: Any, _ctx: Any, many: bool) -> None:
        seen.append(shape(sql, many=many))

    sid, fid = _bench_id(), _bench_id()
    try:
        probe.append_turn(sid, 0, _turn(0), TurnMeta(), create=ConversationHeader(id=sid))
        floor.create(fid)
        floor.append(fid, 0, _turn(0))
        # The store's engine is reached as sql.py keeps it; a benchmark-only look.
        event.listen(probe._engine, "before_cursor_execute", before)
        probe.append_turn(sid, 1, _turn(1), TurnMeta())
        store_turn, seen[:] = list(seen), []
        probe.load(sid)
        store_load = list(seen)
        floor.log = []
        floor.append(fid, 1, _turn(1))
        floor_turn, floor.log[:] = list(floor.log), []
        floor.rows(fid)
        floor_load = list(floor.log)
    finally:
        floor.log = None
        for cid in (sid, fid):
            probe.delete(cid)
        probe.close()
    out = []
    for what, mine, theirs in (("turn", store_turn, floor_turn), ("load", store_load, floor_load)):
        listed = ", ".join(mine)
        if mine == theirs:
            brief = ", ".join(re.sub(r" \((?!many\))[^)]*\)", "", x) for x in mine)
            out.append(f"statements of a {what} (store and floor alike, columns too): {brief}")
        else:
            out.append(
                f"WARNING: the store's statements of a {what} changed: {listed};"
                f" the floor sends {', '.join(theirs)}: update the floor"
            )
    return out


class PostgresFloor(Floor):
    """psycopg 3. The store's INSERTs carry ``RETURNING id`` on PostgreSQL (SQLAlchemy's
    implicit returning of the primary key); the floor sends the same statements."""

    backend = "postgresql"
    not_deleted = "NOT deleted"
    bump = (
        "UPDATE convo_conversations SET version = version + 1, updated_at = %s"
        " WHERE id = %s AND version = %s AND NOT deleted RETURNING message_count"
    )
    insert_message = (
        "INSERT INTO convo_messages (conversation_id, seq, role, text, parts, name,"
        " tool_calls, tool_call_id, refusal, tokens, created_at, message_key)"
        " VALUES (%s, %s, %s, %s, NULL, NULL, NULL, NULL, NULL, %s, %s, %s) RETURNING id"
    )
    insert_turn = (
        "INSERT INTO convo_turns (conversation_id, version, first_seq, n_messages, usage,"
        " prompt_tokens, completion_tokens, total_tokens, model, params, finish_reason,"
        " latency_ms, template_name, template_hash, created_at, cost)"
        " VALUES (%s, %s, %s, %s, NULL, 0, 0, 0, NULL, '{}', NULL, NULL, NULL, NULL, %s, NULL)"
        " RETURNING id"
    )

    def _count(self, cur: Any, cid: str, version: int, now: datetime) -> int:
        cur.execute(self.bump, (now, cid, version))
        return int(cur.fetchone()[0])


class MariaDBFloor(Floor):
    """PyMySQL: no ``UPDATE ... RETURNING``, so the count is read after the UPDATE."""

    backend = "mariadb"
    not_deleted = "deleted = 0"
    system = "`system`"
    bump = (
        "UPDATE convo_conversations SET version = version + 1, updated_at = %s"
        " WHERE id = %s AND version = %s AND deleted = 0"
    )
    tip = "SELECT message_count FROM convo_conversations WHERE id = %s"
    insert_message = (
        "INSERT INTO convo_messages (conversation_id, seq, role, text, parts, name,"
        " tool_calls, tool_call_id, refusal, tokens, created_at, message_key)"
        " VALUES (%s, %s, %s, %s, NULL, NULL, NULL, NULL, NULL, %s, %s, %s)"
    )
    insert_turn = (
        "INSERT INTO convo_turns (conversation_id, version, first_seq, n_messages, `usage`,"
        " prompt_tokens, completion_tokens, total_tokens, model, params, finish_reason,"
        " latency_ms, template_name, template_hash, created_at, cost)"
        " VALUES (%s, %s, %s, %s, NULL, 0, 0, 0, NULL, '{}', NULL, NULL, NULL, NULL, %s, NULL)"
    )

    def _count(self, cur: Any, cid: str, version: int, now: datetime) -> int:
        if cur.execute(self.bump, (now, cid, version)) != 1:
            raise RuntimeError("version conflict in the floor")
        cur.execute(self.tip, (cid,))
        return int(cur.fetchone()[0])


def connect(backend: str, url: str) -> Any:
    """The raw driver's connection (autocommit off), or raise if the server is down."""
    u = make_url(url)
    if backend == "postgresql":
        import psycopg

        return psycopg.connect(
            host=u.host or "127.0.0.1",
            port=u.port or 5432,
            user=u.username,
            password=u.password,
            dbname=u.database,
            connect_timeout=5,
            autocommit=False,
        )
    import pymysql  # type: ignore[import-untyped]  # no stubs installed

    return pymysql.connect(
        host=u.host or "127.0.0.1",
        port=u.port or 3306,
        user=u.username or "root",
        password=u.password or "",
        database=u.database,
        charset="utf8mb4",
        connect_timeout=5,
        autocommit=False,
    )


def durability(backend: str, conn: Any) -> str:
    cur = conn.cursor()
    if backend == "postgresql":
        cur.execute("SHOW synchronous_commit")
        setting = f"synchronous_commit={cur.fetchone()[0]}"
    else:
        cur.execute("SELECT @@innodb_flush_log_at_trx_commit, @@version")
        flush, version = cur.fetchone()
        setting = f"innodb_flush_log_at_trx_commit={flush}, MariaDB {version}"
    conn.commit()
    return setting


# -- rounds ---------------------------------------------------------------------------


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@dataclass
class Setup:
    backend: str
    store: SQLStore
    floor: Floor
    load_id: str
    created: list[tuple[str, bool]]  # (id, made by the floor)


def grow(store: SQLStore, cid: str, n_messages: int) -> None:
    """A stored conversation of ``n_messages``, written by the store in big turns."""
    batch = 500  # turns of 1,000 messages: a few commits
    version, n = 0, 0
    while 2 * n < n_messages:
        messages = [m for k in range(n, min(n + batch, n_messages // 2)) for m in _turn(k)]
        create = ConversationHeader(id=cid) if version == 0 else None
        version = store.append_turn(cid, version, messages, TurnMeta(), create=create)
        n += len(messages) // 2


def one_round(s: Setup, turns: int, rotate: int) -> dict[str, float]:
    times = dict.fromkeys(("append floor", "append store"), 0.0)
    fid, sid = _bench_id(), _bench_id()
    s.created += [(fid, True), (sid, False)]
    # Both conversations exist and hold one turn before timing: creation is not measured.
    s.floor.create(fid)
    fv = s.floor.append(fid, 0, _turn(0))
    sv = s.store.append_turn(sid, 0, _turn(0), TurnMeta(), create=ConversationHeader(id=sid))
    batches = [_turn(n) for n in range(1, turns + 1)]

    def floor_chunk(chunk: list[list[Message]]) -> None:
        nonlocal fv
        for batch in chunk:
            fv = s.floor.append(fid, fv, batch)

    def store_chunk(chunk: list[list[Message]]) -> None:
        nonlocal sv
        for batch in chunk:
            sv = s.store.append_turn(sid, sv, batch, TurnMeta())

    for i, start in enumerate(range(0, turns, CHUNK)):
        chunk = batches[start : start + CHUNK]
        sides = [("append floor", floor_chunk), ("append store", store_chunk)]
        for key, fn in sides if (i + rotate) % 2 == 0 else sides[::-1]:
            times[key] += _time(partial(fn, chunk)) / turns

    cid = s.load_id
    loads: list[tuple[str, Callable[[], object]]] = [
        ("load rows floor", lambda: s.floor.rows(cid)),
        ("load values floor", lambda: s.floor.messages(cid)),
        ("load store", lambda: s.store.load(cid)),
        ("tail floor", lambda: s.floor.messages(cid, 100)),
        ("tail store", lambda: s.store.load(cid, tail=100)),
    ]
    for rep in range(LOAD_REPS):  # each load a few times, the order rotating
        k = (rotate + rep) % len(loads)
        for key, load in loads[k:] + loads[:k]:
            times[key] = times.get(key, 0.0) + _time(load) / LOAD_REPS
    times["round trip"] = s.floor.round_trip()
    return times


CASES = [  # name, case key, floor key, floor name
    ("append 1 turn per commit", "append store", "append floor", "{driver}"),
    ("load whole conversation", "load store", "load rows floor", "{driver} rows"),
    ("load whole conversation", "load store", "load values floor", "rows + Message values"),
    ("load tail of 100", "tail store", "tail floor", "rows + Message values"),
]
DRIVERS = {"postgresql": "psycopg", "mariadb": "pymysql"}


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def bench_backend(
    backend: str, url: str, rounds: int, turns: int, n_messages: int
) -> list[dict[str, Any]]:
    conn = connect(backend, url)
    floor: Floor = PostgresFloor(conn) if backend == "postgresql" else MariaDBFloor(conn)
    store = SQLStore(url)
    setup = Setup(backend, store, floor, _bench_id(), [])
    try:
        store.latest()  # creates or upgrades the schema, before the floor touches it
        setting = durability(backend, conn)
        checked = check_statements(url, floor)
        setup.created.append((setup.load_id, False))
        grow(store, setup.load_id, n_messages)
        assert len(store.load(setup.load_id).messages) == len(floor.rows(setup.load_id))
        one_round(setup, CHUNK, 0)  # warm-up: connections, prepared statements, caches
        results = [one_round(setup, turns, r) for r in range(rounds)]
    finally:
        cleanup(setup)
        store.close()
        floor.close()
    driver = DRIVERS[backend]
    print(
        f"\n{backend} ({setting}), raw {driver}; {turns} turns and a {n_messages:,}-message"
        f" load per round; medians of {rounds} paired rounds"
    )
    rt = _spread([r["round trip"] * 1e3 for r in results])
    print(f"one round trip (SELECT 1 on the floor's connection): {rt['median']:.3f} ms")
    for line in checked:
        print(line)
    print(f"{'case':<28}{'ms':>10}{'floor ms':>10}{'ratio':>8}  [min-max]  floor")
    rows: list[dict[str, Any]] = []
    for name, case, floor_key, floor_name in CASES:
        floor_name = floor_name.format(driver=driver)
        times = [r[case] * 1e3 for r in results]
        ratio = _spread([r[case] / r[floor_key] for r in results])
        floor_ms = statistics.median(r[floor_key] * 1e3 for r in results)
        print(
            f"{name:<28}{statistics.median(times):>10.3f}{floor_ms:>10.3f}"
            f"{ratio['median']:>8.2f}  [{ratio['min']:.2f}-{ratio['max']:.2f}]  {floor_name}"
        )
        rows.append(
            {
                "name": f"{backend}: {name} vs {floor_name}",
                "unit": "ms",
                **_spread(times),
                "ratio": ratio,
                "floor": floor_name,
            }
        )
    rows.append({"name": f"{backend}: one round trip (SELECT 1)", "unit": "ms", **rt})
    return rows


def cleanup(s: Setup) -> None:
    """Delete every conversation this run created (the store's delete removes its rows)."""
    failed = []
    for cid, _by_floor in s.created:
        try:
            s.store.delete(cid)
        except Exception as exc:  # keep deleting the others
            failed.append(f"{cid}: {exc}")
    if failed:
        print(f"{s.backend}: could not delete {', '.join(failed)}")


@contextlib.contextmanager
def database(backend: str, url: str, shared: bool) -> Iterator[str]:
    """The URL to run on: a private database made for this run and dropped after it, as
    the tests make theirs (so that the schema is this checkout's, whatever version other
    checkouts migrated the server's database to); with ``shared``, or when the server
    does not allow creating one, the URL's own database (the run's conversations are
    deleted at the end either way)."""
    if shared:
        yield url
        return
    from sqlalchemy import create_engine, text

    name = f"convo_bench_{uuid.uuid4().hex[:16]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    extra = " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin" if backend == "mariadb" else ""
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}{extra}"))
    except Exception as exc:  # no privilege: run in the given database
        admin.dispose()
        print(f"\n{backend}: cannot create a database ({_reason(exc)}); using the URL's own")
        yield url
        return
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        force = " WITH (FORCE)" if backend == "postgresql" else ""
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}{force}"))
        admin.dispose()


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--turns", type=int, default=100, help="appended per side per round")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--postgresql", default=DEFAULT_URLS["postgresql"])
    parser.add_argument("--mariadb", default=DEFAULT_URLS["mariadb"])
    parser.add_argument("--only", choices=sorted(DEFAULT_URLS), action="append")
    parser.add_argument(
        "--shared",
        action="store_true",
        help="run in the URL's database instead of a private one made for the run",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer rounds")
    args = parser.parse_args()
    if args.quick or os.environ.get("CONVO_BENCH_QUICK") == "1":
        args.rounds, args.turns, args.messages = 2, 20, 2_000
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for backend in args.only or ("postgresql", "mariadb"):
        url = args.postgresql if backend == "postgresql" else args.mariadb
        shown = make_url(url).render_as_string(hide_password=True)
        try:
            connect(backend, url).close()
        except Exception as exc:  # any failure to connect: not answering, skip the backend
            print(f"\n{backend}: {shown} does not answer ({_reason(exc)}); skipped")
            continue
        try:
            with database(backend, url, args.shared) as run_url:
                rows += bench_backend(backend, run_url, args.rounds, args.turns, args.messages)
        except Exception as exc:  # a benchmark: report the failure, measure the others
            print(f"\n{backend}: failed ({_reason(exc)}); skipped")
    print(f"\nwall time {time.perf_counter() - started:.0f} s")
    path = os.environ.get("CONVO_BENCH_JSON")
    if path:
        Path(path).write_text(json.dumps({"rows": rows}, indent=2))


if __name__ == "__main__":
    main()
