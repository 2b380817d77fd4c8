"""How much SQLStore costs over raw sqlite3 (WAL) doing the same work. Prints ratios.

    python benchmarks/bench_store.py [--rounds 5] [--turns 200] [--messages 10000]

Work measured (medians over rounds, each on a fresh database file):

* append: one turn (user + assistant) per commit, with the version check, the turn row
  and the conversation update. The floor runs the same statements through sqlite3.
* load: a 10,000-message conversation, whole and its last 100 messages. Two floors:
  fetching the rows, and fetching them plus building the same ``Message`` values.
* async append: AsyncSQLStore (a worker-thread hop per call) against the sync store.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path

from convo.messages import Message
from convo.store import AsyncSQLStore, ConversationHeader, SQLStore, TurnMeta

FLOOR_SCHEMA = """
CREATE TABLE c (id TEXT PRIMARY KEY, version INT, message_count INT, head_id INT,
                updated_at TEXT);
CREATE TABLE m (id INTEGER PRIMARY KEY, conversation_id TEXT, seq INT, parent_id INT,
                role TEXT, text TEXT, tokens TEXT, created_at TEXT,
                UNIQUE (conversation_id, seq));
CREATE TABLE t (id INTEGER PRIMARY KEY, conversation_id TEXT, version INT, first_seq INT,
                n INT, usage TEXT, created_at TEXT);
"""


def _turn(n: int) -> list[Message]:
    user, reply = Message.user(f"question {n} " * 8), Message.assistant(f"answer {n} " * 30)
    user._tokens["o200k_base"] = 17
    reply._tokens["o200k_base"] = 61
    return [user, reply]


class Floor:
    """Raw sqlite3 in WAL mode doing what the store does for a turn and a load."""

    def __init__(self, path: Path):
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # as the store sets it: a fair floor
        self.db.executescript(FLOOR_SCHEMA)
        self.db.execute("INSERT INTO c VALUES ('c', 0, 0, NULL, '')")

    def append(self, version: int, messages: list[Message]) -> int:
        db = self.db
        now = time.strftime("%Y-%m-%d %H:%M:%S")
        db.execute("BEGIN IMMEDIATE")
        cur = db.execute(
            "UPDATE c SET version = version + 1, updated_at = ? WHERE id = 'c' AND version = ?",
            (now, version),
        )
        assert cur.rowcount == 1
        count, head = db.execute("SELECT message_count, head_id FROM c WHERE id = 'c'").fetchone()
        for i, m in enumerate(messages):
            head = db.execute(
                "INSERT INTO m (conversation_id, seq, parent_id, role, text, tokens, created_at)"
                " VALUES ('c', ?, ?, ?, ?, ?, ?)",
                (count + i, head, m.role, m.content, json.dumps(m._tokens), now),
            ).lastrowid
        db.execute(
            "INSERT INTO t (conversation_id, version, first_seq, n, usage, created_at)"
            " VALUES ('c', ?, ?, ?, '{}', ?)",
            (version + 1, count, len(messages), now),
        )
        db.execute(
            "UPDATE c SET message_count = ?, head_id = ? WHERE id = 'c'",
            (count + len(messages), head),
        )
        db.execute("COMMIT")
        return version + 1

    def rows(self, tail: int | None = None) -> list[tuple[object, ...]]:
        start = 0
        if tail is not None:
            (count,) = self.db.execute("SELECT message_count FROM c WHERE id = 'c'").fetchone()
            start = max(0, count - tail)
        return self.db.execute(
            "SELECT id, role, text, tokens FROM m WHERE conversation_id = 'c' AND seq >= ?"
            " ORDER BY seq",
            (start,),
        ).fetchall()

    def messages(self, tail: int | None = None) -> list[Message]:
        out = []
        for _id, role, text, tokens in self.rows(tail):
            m = Message.model_validate({"role": role, "content": text})
            m._tokens.update(json.loads(str(tokens)))
            out.append(m)
        return out


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def one_round(directory: Path, turns: int, n_messages: int) -> dict[str, float]:
    times: dict[str, float] = {}
    floor = Floor(directory / f"floor-{uuid.uuid4().hex}.db")
    store = SQLStore(f"sqlite:///{directory / f'store-{uuid.uuid4().hex}.db'}")
    store.latest()  # migrations happen once, before timing
    batches = [_turn(n) for n in range(turns)]

    cid, acid = uuid.uuid4().hex, uuid.uuid4().hex
    async_store = AsyncSQLStore(f"sqlite:///{directory / f'async-{uuid.uuid4().hex}.db'}")
    loop = asyncio.new_event_loop()
    loop.run_until_complete(async_store.latest())
    versions = {"floor": 0, "store": 0, "async": 0}

    def floor_appends(chunk: list[list[Message]]) -> None:
        for batch in chunk:
            versions["floor"] = floor.append(versions["floor"], batch)

    def store_appends(chunk: list[list[Message]]) -> None:
        for batch in chunk:
            v = versions["store"]
            create = ConversationHeader(id=cid) if v == 0 else None
            versions["store"] = store.append_turn(cid, v, batch, TurnMeta(), create=create)

    async def async_appends(chunk: list[list[Message]]) -> None:
        for batch in chunk:
            v = versions["async"]
            create = ConversationHeader(id=acid) if v == 0 else None
            versions["async"] = await async_store.append_turn(
                acid, v, batch, TurnMeta(), create=create
            )

    # Interleaved in small chunks so that disk and load noise hits all three alike.
    times["append floor"] = times["append store"] = times["append async"] = 0.0
    for start in range(0, turns, 10):
        chunk = batches[start : start + 10]
        times["append floor"] += _time(partial(floor_appends, chunk)) / turns
        times["append store"] += _time(partial(store_appends, chunk)) / turns
        run_async = partial(loop.run_until_complete, async_appends(chunk))
        times["append async"] += _time(run_async) / turns

    # Grow both to n_messages, then load.
    version, base = turns, turns
    while 2 * version < n_messages:
        version = floor.append(version, _turn(version))
    version = base
    while 2 * version < n_messages:
        version = store.append_turn(cid, version, _turn(version), TurnMeta())
    assert len(store.load(cid).messages) == len(floor.rows()) == n_messages

    times["load rows floor"] = _time(floor.rows)
    times["load values floor"] = _time(floor.messages)
    times["load store"] = _time(lambda: store.load(cid))
    times["tail floor"] = _time(lambda: floor.messages(100))
    times["tail store"] = _time(lambda: store.load(cid, tail=100))
    store.close()
    loop.run_until_complete(async_store.close())
    loop.close()
    floor.db.close()
    return times


CASES = [  # name, case key, floor key, floor name
    ("append 1 turn per commit", "append store", "append floor", "sqlite3"),
    ("async append (thread hop)", "append async", "append store", "sync SQLStore"),
    ("load whole conversation", "load store", "load rows floor", "sqlite3 rows"),
    ("load whole conversation", "load store", "load values floor", "rows + Message values"),
    ("load tail of 100", "tail store", "tail floor", "rows + Message values"),
]


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer rounds")
    args = parser.parse_args()
    if args.quick or os.environ.get("CONVO_BENCH_QUICK") == "1":
        args.rounds, args.turns, args.messages = 2, 50, 2_000
    with tempfile.TemporaryDirectory() as tmp:
        rounds = [one_round(Path(tmp), args.turns, args.messages) for _ in range(args.rounds)]
    rows = []
    print(f"SQLite WAL file; {args.messages} messages; medians of {args.rounds} paired rounds")
    print(f"{'case':<28}{'ms':>10}{'floor ms':>10}{'ratio':>8}  floor")
    for name, case, floor, floor_name in CASES:
        times = [r[case] * 1e3 for r in rounds]
        ratios = [r[case] / r[floor] for r in rounds]
        floor_ms = statistics.median(r[floor] * 1e3 for r in rounds)
        ratio = _spread(ratios)
        print(
            f"{name:<28}{statistics.median(times):>10.3f}{floor_ms:>10.3f}"
            f"{ratio['median']:>8.2f}  {floor_name}"
        )
        rows.append(
            {
                "name": f"{name} vs {floor_name}",
                "unit": "ms",
                **_spread(times),
                "ratio": ratio,
                "floor": floor_name,
            }
        )
    path = os.environ.get("CONVO_BENCH_JSON")
    if path:
        Path(path).write_text(json.dumps({"rows": rows}, indent=2))


if __name__ == "__main__":
    main()
