"""Memory: what an idle 20-turn conversation holds beyond its message text, and what the
o200k_base encoding adds to a process. Prints the figures; asserts nothing.

    python benchmarks/bench_memory.py [--conversations 1000] [--traced 250] [--rounds 2]
        [--top 10]

Every measurement runs in a fresh subprocess, so nothing is shared or already warm:

* idle conversations: ``--conversations`` ``Conversation`` objects, each a system prompt
  and 20 turns (40 messages) sent through ``FunctionTransport`` (no network), with the
  token budget on (``model="gpt-4o-mini"``, its context window). One transport serves
  them all, as in an application; the requests it records (a test double's log, not
  the conversation's) are cleared after each conversation. Each reply is a distinct
  string, as a server's would be. Before measuring, one conversation is built and
  dropped, so imports, the encoding and caches are in place; then ``gc.collect()``
  before each reading.
* floors: the same texts (the same f-strings, so the same sizes) kept as plain Python
  strings (one list per conversation, the system prompt shared, as the conversations
  share it), and as plain dicts ``{"role": ..., "content": ...}``.
* "beyond its message text" is the conversation's bytes minus the strings'; target
  under 20 KB. Measured twice: tracemalloc's traced bytes (Python allocations only,
  exact) and the RSS growth (``VmRSS``, includes allocator slack; a separate child
  without tracemalloc, whose own bookkeeping would inflate RSS).
* where the bytes are: ``tracemalloc`` snapshots before and after, compared by line;
  the top allocation sites, in bytes and blocks per conversation (a block is counted
  where it was last allocated: a dict that grew is counted at the line that grew it;
  pydantic's lines are the messages' own ``__dict__`` and field sets). Then the live
  objects made while building, by type, and what one stored message is made of.
* the encoding: peak RSS (``VmHWM``) of a process that imported convo and loaded
  ``convo.tokens.get_encoding("o200k_base")`` (and counted one text) against one that
  only imported convo.
"""

from __future__ import annotations

import argparse
import gc
import json
import linecache
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# This checkout's convo, here and in the children (PYTHONPATH), as run.py does.
sys.path.insert(0, str(ROOT))
TURNS = 20
MODEL = "gpt-4o-mini"
TARGET_BYTES = 20 * 1024  # beyond the message text, per idle 20-turn conversation
SYSTEM = "You are a careful assistant for a small engineering team. Answer briefly and exactly."


def user_text(c: int, t: int) -> str:
    return f"Question {c}.{t}: how does the store keep a turn atomic when two writers race?"


def reply_text(c: int, t: int) -> str:
    return (
        f"Answer {c}.{t}: each turn is one transaction with a version check; the second"
        " writer gets a conflict, reloads and retries, so no turn is half written."
    )


# -- children -------------------------------------------------------------------------


def _rss_kib(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


class Builder:
    """Builds conversation ``c`` in one of three shapes."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.c = 0
        self.t = 0
        if kind == "convo":
            from convo import Conversation, FunctionTransport

            self.Conversation = Conversation
            self.transport = FunctionTransport(self._reply)

    def _reply(self, _request: object) -> str:
        text = reply_text(self.c, self.t)
        self.t += 1
        return text

    def build(self, c: int) -> object:
        self.c, self.t = c, 0
        if self.kind == "convo":
            conv = self.Conversation(SYSTEM, model=MODEL, transport=self.transport)
            for t in range(TURNS):
                conv.send(user_text(c, t))
            self.transport.requests.clear()
            return conv
        if self.kind == "strings":
            texts = [SYSTEM]
            for t in range(TURNS):
                texts += [user_text(c, t), reply_text(c, t)]
            return texts
        messages = [{"role": "system", "content": SYSTEM}]
        for t in range(TURNS):
            messages.append({"role": "user", "content": user_text(c, t)})
            messages.append({"role": "assistant", "content": reply_text(c, t)})
        return messages


def _short(filename: str) -> str:
    for prefix in sorted({str(ROOT), *sys.path}, key=len, reverse=True):
        if prefix and filename.startswith(prefix + os.sep):
            return filename[len(prefix) + 1 :]
    return filename


def child_idle(kind: str, count: int, trace: bool, top: int) -> dict[str, Any]:
    builder = Builder(kind)
    builder.build(-1)  # imports, the encoding, caches: in place before measuring
    keep: list[object] = []
    gc.collect()
    before_snapshot = None
    old = gc.get_objects() if trace else []  # held, so that no id is reused
    before = {id(o) for o in old}
    if trace:
        tracemalloc.start()
        before_snapshot = tracemalloc.take_snapshot()
    traced_before = tracemalloc.get_traced_memory()[0] if trace else 0
    rss_before = _rss_kib()
    started = time.perf_counter()
    for c in range(count):
        keep.append(builder.build(c))
    seconds = time.perf_counter() - started
    gc.collect()
    rss_after = _rss_kib()
    out: dict[str, Any] = {
        "kind": kind,
        "count": len(keep),
        "rss_bytes": (rss_after - rss_before) * 1024 / count,
        "build_us": seconds / count * 1e6,
    }
    if trace:
        out["traced_bytes"] = (tracemalloc.get_traced_memory()[0] - traced_before) / count
        out["types"] = census(before, count, top, old, before, out, before_snapshot)
        if kind == "convo":
            out["anatomy"] = anatomy(keep[-1])
        after_snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
        assert before_snapshot is not None
        ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
        diffs = after_snapshot.filter_traces(ignore).compare_to(
            before_snapshot.filter_traces(ignore), "lineno"
        )
        diffs.sort(key=lambda d: d.size_diff, reverse=True)
        out["top"] = [
            {
                "site": f"{_short(d.traceback[0].filename)}:{d.traceback[0].lineno}",
                "code": linecache.getline(d.traceback[0].filename, d.traceback[0].lineno).strip(),
                "bytes": d.size_diff / count,
                "blocks": d.count_diff / count,
            }
            for d in diffs[:top]
        ]
    return out


def census(before: set[int], count: int, top: int, *exclude: object) -> list[dict[str, Any]]:
    """The live objects made since ``before`` (the ids of the gc-tracked objects then), by
    type, with what they refer to that is new too (strings, numbers, atom-only dicts,
    which gc does not track: new when tracemalloc traced them). ``sys.getsizeof``, shallow.

    Python 3.11's ``tracemalloc.get_object_traceback`` misses instances that keep their
    ``__dict__`` before the object header (a plain class's, a pydantic model's), so new
    tracked objects are told by id, not by traceback.
    """
    trace_of = tracemalloc.get_object_traceback
    skip = {id(x) for x in exclude}
    seen: dict[int, object] = {}
    stack = [o for o in gc.get_objects() if id(o) not in before and id(o) not in skip]
    for obj in stack:
        seen[id(obj)] = obj
    while stack:
        for ref in gc.get_referents(stack.pop()):
            if id(ref) in seen or id(ref) in skip or gc.is_tracked(ref):
                continue  # tracked ones are in gc.get_objects() already
            if trace_of(ref) is not None:
                seen[id(ref)] = ref
                stack.append(ref)
    by_type: dict[str, list[int]] = {}
    for obj in seen.values():
        entry = by_type.setdefault(type(obj).__qualname__, [0, 0])
        entry[0] += sys.getsizeof(obj)
        entry[1] += 1
    ranked = sorted(by_type.items(), key=lambda kv: kv[1][0], reverse=True)
    return [
        {"type": name, "bytes": size / count, "objects": n / count}
        for name, (size, n) in ranked[:top]
    ]


def anatomy(conversation: Any) -> dict[str, int]:
    """What one stored message is made of, in bytes (``sys.getsizeof``, shallow): the
    object and the containers pydantic and convo hang on it (read, never changed)."""
    # The first user message: sent in every request since, so every cache is filled (the
    # last reply, never sent yet, has none).
    message = conversation.messages[1]
    parts = {"Message object": sys.getsizeof(message), "text (str)": sys.getsizeof(message.text)}
    for attr in ("__dict__", "__pydantic_fields_set__", "__pydantic_private__"):
        value = getattr(message, attr, None)
        if value is not None:
            parts[attr] = sys.getsizeof(value)
    for key, value in (getattr(message, "__pydantic_private__", None) or {}).items():
        if isinstance(value, dict | list | tuple | set):
            parts[f"{key} ({len(value)} entries)"] = sys.getsizeof(value)
    return parts


def child_encoding(load: bool) -> dict[str, Any]:
    started = time.perf_counter()
    from convo import Conversation, FunctionTransport  # noqa: F401  (both processes)

    if load:
        from convo.tokens import get_encoding

        enc = get_encoding("o200k_base")
        assert enc.encode("Hello, world") != []
    seconds = time.perf_counter() - started
    gc.collect()
    return {"peak_rss_kib": _rss_kib("VmHWM"), "rss_kib": _rss_kib(), "seconds": seconds}


def _run_child(*args: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=env
    )
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"
        raise RuntimeError(f"child {' '.join(args)}: {tail}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# -- the parent -----------------------------------------------------------------------


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _kib(value: float) -> str:
    return f"{value / 1024:.1f} KiB"


def measure(
    count: int, traced: int, rounds: int, top: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    runs: dict[str, list[dict[str, Any]]] = {}
    for r in range(rounds):
        kinds = ["convo", "strings", "dicts"]
        for kind in kinds[r % 3 :] + kinds[: r % 3]:
            for trace in (True, False):
                key = f"{kind} {'traced' if trace else 'rss'}"
                n = traced if trace else count
                args = ["idle", kind, str(n), "1" if trace else "0", str(top)]
                runs.setdefault(key, []).append(_run_child(*args))
        for load in (True, False):
            key = "encoding loaded" if load else "encoding not loaded"
            runs.setdefault(key, []).append(_run_child("encoding", "1" if load else "0"))

    def per_round(key: str, field: str) -> list[float]:
        return [float(run[field]) for run in runs[key]]

    convo_t, text_t, dicts_t = (
        per_round(f"{k} traced", "traced_bytes") for k in ("convo", "strings", "dicts")
    )
    convo_r, text_r, dicts_r = (
        per_round(f"{k} rss", "rss_bytes") for k in ("convo", "strings", "dicts")
    )
    beyond_t = [c - s for c, s in zip(convo_t, text_t, strict=True)]
    beyond_r = [c - s for c, s in zip(convo_r, text_r, strict=True)]
    loaded = per_round("encoding loaded", "peak_rss_kib")
    bare = per_round("encoding not loaded", "peak_rss_kib")
    enc_added = [a - b for a, b in zip(loaded, bare, strict=True)]
    load_seconds = per_round("encoding loaded", "seconds")
    bare_seconds = per_round("encoding not loaded", "seconds")

    per = (
        f"idle conversations of a system prompt and {TURNS} turns ({count:,} of them"
        f" for RSS, {traced:,} under tracemalloc)"
    )
    print(f"memory, {per}; each figure a fresh subprocess, medians of {rounds} rounds")
    print(f"{'per conversation':<44}{'tracemalloc':>14}{'RSS growth':>14}")
    lines = [
        ("convo Conversation", convo_t, convo_r),
        ("the message text alone (41 str)", text_t, text_r),
        ("the messages as plain dicts", dicts_t, dicts_r),
        ("convo beyond its message text", beyond_t, beyond_r),
        (
            "convo beyond the plain dicts",
            [c - d for c, d in zip(convo_t, dicts_t, strict=True)],
            [c - d for c, d in zip(convo_r, dicts_r, strict=True)],
        ),
    ]
    for name, by_trace, by_rss in lines:
        print(
            f"{name:<44}{_kib(statistics.median(by_trace)):>14}{_kib(statistics.median(by_rss)):>14}"
        )
    beyond = statistics.median(beyond_t)
    verdict = "met" if beyond < TARGET_BYTES else "NOT met"
    print(f"target: under 20 KB beyond its message text (tracemalloc): {verdict}")
    build = statistics.median(per_round("convo rss", "build_us"))
    print(f"(building one: {build / 1e3:.2f} ms for {TURNS} sends, untraced)")
    print()
    med = statistics.median
    print(
        "peak RSS (VmHWM) of a process that imports convo's Conversation:"
        f" {med(bare) / 1024:.1f} MiB; that also loads o200k_base:"
        f" {med(loaded) / 1024:.1f} MiB (+{med(enc_added) / 1024:.1f} MiB;"
        f" import {med(bare_seconds):.2f} s, import + load {med(load_seconds):.2f} s)"
    )
    types: list[dict[str, Any]] = runs["convo traced"][0]["types"]
    print()
    print("what holds it: the live objects made while building, by type, per conversation:")
    print(f"{'bytes':>9}{'objects':>9}  type (sys.getsizeof, shallow)")
    for t in types:
        print(f"{t['bytes']:>9.0f}{t['objects']:>9.1f}  {t['type']}")
    parts: dict[str, int] = runs["convo traced"][0]["anatomy"]
    print(
        f"one message ({sum(parts.values())} bytes):",
        ", ".join(f"{k} {v}" for k, v in parts.items()),
    )
    top_sites: list[dict[str, Any]] = runs["convo traced"][0]["top"]
    print()
    print(f"top {len(top_sites)} allocation sites per idle conversation (tracemalloc, by line):")
    print(f"{'bytes':>9}{'blocks':>8}  site")
    for site in top_sites:
        print(f"{site['bytes']:>9.0f}{site['blocks']:>8.1f}  {site['site']}  {site['code'][:70]}")

    rows: list[dict[str, Any]] = [
        {"name": "idle 20-turn conversation: convo (tracemalloc)", "unit": "KiB/conv"}
        | _spread([v / 1024 for v in convo_t])
        | {
            "ratio": _spread([c / d for c, d in zip(convo_t, dicts_t, strict=True)]),
            "floor": "plain dicts",
        },
        {"name": "idle 20-turn conversation: plain dicts (tracemalloc)", "unit": "KiB/conv"}
        | _spread([v / 1024 for v in dicts_t]),
        {"name": "idle 20-turn conversation: message text (tracemalloc)", "unit": "KiB/conv"}
        | _spread([v / 1024 for v in text_t]),
        {"name": "idle 20-turn conversation: beyond its text, tracemalloc", "unit": "KiB/conv"}
        | _spread([v / 1024 for v in beyond_t])
        | {  # as a ratio to the target, so that run.py's table shows it met or not
            "ratio": _spread([v / TARGET_BYTES for v in beyond_t]),
            "floor": "the 20 KB target",
            "target": 1.0,
            "met": statistics.median(beyond_t) < TARGET_BYTES,
        },
        {"name": "idle 20-turn conversation: beyond its text, RSS", "unit": "KiB/conv"}
        | _spread([v / 1024 for v in beyond_r]),
        {"name": "peak RSS: a process that imported Conversation", "unit": "MiB"}
        | _spread([v / 1024 for v in bare]),
        {"name": "peak RSS: ... and loaded o200k_base", "unit": "MiB"}
        | _spread([v / 1024 for v in loaded]),
        {"name": "peak RSS added by o200k_base", "unit": "MiB"}
        | _spread([v / 1024 for v in enc_added]),
    ]
    return rows, {"top_sites": top_sites, "types": types, "anatomy": parts, "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=1_000)
    parser.add_argument(
        "--traced", type=int, default=250, help="conversations under tracemalloc (exact, slow)"
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer rounds")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        what, *rest = args.child
        if what == "idle":
            kind, count, trace, top = rest
            result = child_idle(kind, int(count), trace == "1", int(top))
        else:
            result = child_encoding(rest[0] == "1")
        print(json.dumps(result))
        return
    if args.quick or os.environ.get("CONVO_BENCH_QUICK") == "1":
        args.conversations, args.traced, args.rounds = 300, 200, 1
    started = time.perf_counter()
    traced = min(args.traced, args.conversations)
    rows, details = measure(args.conversations, traced, args.rounds, args.top)
    print(f"\nwall time {time.perf_counter() - started:.0f} s")
    path = os.environ.get("CONVO_BENCH_JSON")
    if path:
        Path(path).write_text(json.dumps({"rows": rows, **details}, indent=2))


if __name__ == "__main__":
    main()
