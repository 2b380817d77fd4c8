"""How much SQLStore costs over raw sqlite3 (WAL) doing the same work. Prints ratios.

    python benchmarks/bench_store.py [--rounds 5] [--turns 200] [--messages 10000]
        [--durability normal|full]

Work measured (medians over rounds, each on a fresh database file):

* append: one turn (user + assistant) per commit, with the version check, the turn row
  and the conversation update. The floor runs the same statements through sqlite3, on
  the store's schema, with the store's durability settings.
* load: a 10,000-message conversation, whole and its last 100 messages. Two floors:
  fetching the same rows with the same queries, and that plus building ``Message``
  values the plain way (``Message.model_validate`` and ``json.loads``).
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
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from convo.messages import Message
from convo.store import AsyncSQLStore, ConversationHeader, SQLStore, TurnMeta
from convo.store._engine import Durability


def _turn(n: int) -> list[Message]:
    user, reply = Message.user(f"question {n} " * 8), Message.assistant(f"answer {n} " * 30)
    user._tokens["o200k_base"] = 17
    reply._tokens["o200k_base"] = 61
    return [user, reply]


class Floor:
    """Raw sqlite3 doing by hand what the store does, on the store's own schema (the
    same tables and indexes, made by its migrations) with the store's settings: WAL,
    synchronous=NORMAL (FULL for ``--durability full``), foreign keys on, BEGIN
    IMMEDIATE for writes. The statements are
    the ones the store runs for a turn and a load (a turn's messages in one
    ``executemany``); what is left is the store's overhead.
    """

    def __init__(self, path: Path, synchronous: str = "NORMAL"):
        with SQLStore(f"sqlite:///{path}") as store:
            store.latest()  # the first use creates the schema
        self.db = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=WAL", f"synchronous={synchronous}", "foreign_keys=ON"):
            self.db.execute(f"PRAGMA {pragma}")
        now = _now()
        self.db.execute(
            "INSERT INTO convo_conversations (id, variables, params, metadata_json, version,"
            " message_count, deleted, created_at, updated_at)"
            " VALUES ('c', '{}', '{}', '{}', 0, 0, 0, ?, ?)",
            (now, now),
        )
        self.db.execute("INSERT INTO convo_segments VALUES ('c', 'c', 0, NULL)")

    def append(self, version: int, messages: list[Message]) -> int:
        db = self.db
        now = _now()
        db.execute("BEGIN IMMEDIATE")
        (count,) = db.execute(
            "UPDATE convo_conversations SET version = version + 1, updated_at = ?"
            " WHERE id = 'c' AND version = ? AND NOT deleted RETURNING message_count",
            (now, version),
        ).fetchone()
        db.executemany(
            "INSERT INTO convo_messages (conversation_id, seq, role, text, parts,"
            " name, tool_calls, tool_call_id, refusal, tokens, created_at)"
            " VALUES ('c', ?, ?, ?, NULL, NULL, NULL, NULL, NULL, ?, ?)",
            [
                (count + i, m.role, m.content, json.dumps(m._tokens), now)
                for i, m in enumerate(messages)
            ],
        )
        db.execute(
            "INSERT INTO convo_turns (conversation_id, version, first_seq, n_messages, usage,"
            " prompt_tokens, completion_tokens, total_tokens, model, params, finish_reason,"
            " latency_ms, template_name, template_hash, created_at)"
            " VALUES ('c', ?, ?, ?, NULL, 0, 0, 0, NULL, '{}', NULL, NULL, NULL, NULL, ?)",
            (version + 1, count, len(messages), now),
        )
        db.execute(
            "UPDATE convo_conversations SET message_count = ?,"
            " preview = coalesce(preview, ?) WHERE id = 'c'",
            (count + len(messages), messages[0].text[:200]),
        )
        db.execute("COMMIT")
        return version + 1

    def rows(self, tail: int | None = None) -> list[tuple[object, ...]]:
        """The store's three reads: the conversation, its segments, the message range."""
        db = self.db
        db.execute("BEGIN")
        (count,) = db.execute(
            "SELECT message_count FROM convo_conversations WHERE id = 'c' AND NOT deleted"
        ).fetchone()
        start = 0 if tail is None else max(0, count - tail)
        db.execute("SELECT source_id, lo, hi FROM convo_segments WHERE conversation_id = 'c'")
        rows = db.execute(
            "SELECT id, role, text, parts, name, tool_calls, tool_call_id, refusal, tokens"
            " FROM convo_messages WHERE conversation_id = 'c' AND seq >= ? AND seq < ?"
            " ORDER BY seq",
            (start, count),
        ).fetchall()
        db.execute("COMMIT")
        return rows

    def messages(self, tail: int | None = None) -> list[Message]:
        """The rows as validated ``Message`` values, the plain way (pydantic + json)."""
        out = []
        for _id, role, text, _parts, _name, _calls, _call_id, _refusal, tokens in self.rows(tail):
            m = Message.model_validate({"role": role, "content": text})
            m._tokens.update(json.loads(str(tokens)))
            out.append(m)
        return out


def _now() -> str:
    # As SQLAlchemy stores a DateTime in SQLite.
    return datetime.now(UTC).replace(tzinfo=None).isoformat(" ")


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def one_round(
    directory: Path, turns: int, n_messages: int, durability: Durability = "normal"
) -> dict[str, float]:
    times: dict[str, float] = {}
    floor = Floor(directory / f"floor-{uuid.uuid4().hex}.db", durability.upper())
    store = SQLStore(
        f"sqlite:///{directory / f'store-{uuid.uuid4().hex}.db'}", durability=durability
    )
    store.latest()  # migrations happen once, before timing
    batches = [_turn(n) for n in range(turns)]

    cid, acid = uuid.uuid4().hex, uuid.uuid4().hex
    async_store = AsyncSQLStore(
        f"sqlite:///{directory / f'async-{uuid.uuid4().hex}.db'}", durability=durability
    )
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
    parser.add_argument("--durability", choices=["normal", "full"], default="normal")
    args = parser.parse_args()
    if args.quick or os.environ.get("CONVO_BENCH_QUICK") == "1":
        args.rounds, args.turns, args.messages = 2, 50, 2_000
    with tempfile.TemporaryDirectory() as tmp:
        rounds = [
            one_round(Path(tmp), args.turns, args.messages, args.durability)
            for _ in range(args.rounds)
        ]
    rows = []
    print(
        f"SQLite WAL file, durability {args.durability}; {args.messages} messages;"
        f" medians of {args.rounds} paired rounds"
    )
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
