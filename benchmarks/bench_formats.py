"""The other wire formats' cost: Anthropic Messages and OpenAI Responses against raw httpx2.

Same server (``benchmarks/server.py``, which answers ``/v1/messages`` and
``/v1/responses`` from bytes built once), same run, interleaved rounds, paired ratios,
as ``bench_http.py``. The floor for each format is raw ``httpx2`` doing that format by
hand: the growing history as that API's dicts, ``json=`` body, ``response.json()``;
for streams ``iter_lines()`` and ``json.loads`` of each ``data:`` line, keeping the
text deltas. With the official ``anthropic`` SDK installed it is measured too (on its
own client, ``httpx``), to show what building on it would cost.

    python benchmarks/bench_formats.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plugins" / "convo-anthropic"))

import httpx2
from bench_http import LIMITS, SYSTEM, Row, measure_sync, question, raw_stream, raw_sync, table
from convo_anthropic.transport import AnthropicTransport
from server import serve

from convo.conversation import Conversation
from convo.transports.openai import OpenAITransport
from convo.transports.responses import ResponsesTransport

KEY = "sk-bench-not-a-secret"


# -- raw floors, one per format ------------------------------------------------------


def raw_anthropic(client: httpx2.Client, url: str, turns: int, stream: bool) -> None:
    messages: list[dict[str, Any]] = []
    for i in range(turns):
        messages.append({"role": "user", "content": question(i)})
        body = {"model": "claude-bench", "max_tokens": 1024, "system": SYSTEM, "messages": messages}
        if not stream:
            data = client.post(url, json=body).json()
            text = "".join(b["text"] for b in data["content"] if b["type"] == "text")
        else:
            parts: list[str] = []
            with client.stream("POST", url, json={**body, "stream": True}) as response:
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        event = json.loads(line[6:])
                        if event["type"] == "content_block_delta":
                            parts.append(event["delta"].get("text", ""))
            text = "".join(parts)
        messages.append({"role": "assistant", "content": text})


def raw_responses(client: httpx2.Client, url: str, turns: int, stream: bool) -> None:
    items: list[dict[str, Any]] = [{"type": "message", "role": "system", "content": SYSTEM}]
    for i in range(turns):
        items.append({"type": "message", "role": "user", "content": question(i)})
        body = {"model": "gpt-bench", "input": items, "store": False}
        if not stream:
            data = client.post(url, json=body).json()
            text = "".join(
                p["text"] for o in data["output"] if o["type"] == "message" for p in o["content"]
            )
        else:
            parts: list[str] = []
            with client.stream("POST", url, json={**body, "stream": True}) as response:
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        event = json.loads(line[6:])
                        if event["type"] == "response.output_text.delta":
                            parts.append(event["delta"])
            text = "".join(parts)
        items.append({"type": "message", "role": "assistant", "content": text})


def sdk_anthropic(client: Any, turns: int, stream: bool) -> None:
    messages: list[dict[str, Any]] = []
    for i in range(turns):
        messages.append({"role": "user", "content": question(i)})
        kw = {"model": "claude-bench", "max_tokens": 1024, "system": SYSTEM, "messages": messages}
        if not stream:
            reply = client.messages.create(**kw)
            text = "".join(b.text for b in reply.content if b.type == "text")
        else:
            with client.messages.stream(**kw) as s:
                text = "".join(s.text_stream)
        messages.append({"role": "assistant", "content": text})


def convo(transport: Any, model: str, turns: int, stream: bool) -> None:
    conv = Conversation(SYSTEM, model=model, transport=transport)
    for i in range(turns):
        if stream:
            with conv.stream(question(i)) as s:
                for _ in s:
                    pass
        else:
            conv.send(question(i))


# -- scenarios -----------------------------------------------------------------------


def bench(base_url: str, turns: int, rounds: int, stream: bool) -> list[Row]:
    root = base_url.removesuffix("/v1")
    client = httpx2.Client(limits=httpx2.Limits(**LIMITS))
    anthropic = AnthropicTransport(root, api_key=KEY)
    responses = ResponsesTransport(base_url, api_key=KEY)
    chat = OpenAITransport(base_url, api_key=KEY)
    what = "stream 500 chunks" if stream else "sync sequential"
    rows = [
        Row(f"{what}: raw httpx2 Anthropic (floor)", turns, None, None),
        Row(f"{what}: Conversation over AnthropicTransport", turns, "raw httpx2 Anthropic", None),
        Row(f"{what}: raw httpx2 Responses (floor)", turns, None, None),
        Row(f"{what}: Conversation over ResponsesTransport", turns, "raw httpx2 Anthropic", None),
        Row(f"{what}: raw httpx2 Chat Completions (floor)", turns, None, None),
        Row(f"{what}: Conversation over OpenAITransport", turns, "raw httpx2 Anthropic", None),
    ]
    cases: list[Callable[[], Any]] = [
        lambda: raw_anthropic(client, f"{root}/v1/messages", turns, stream),
        lambda: convo(anthropic, "claude-bench", turns, stream),
        lambda: raw_responses(client, f"{base_url}/responses", turns, stream),
        lambda: convo(responses, "gpt-bench", turns, stream),
        lambda: (raw_stream if stream else raw_sync)(client, f"{base_url}/chat/completions", turns),
        lambda: convo(chat, "gpt-4o-mini", turns, stream),
    ]
    sdk = _sdk(root)
    if sdk is not None:
        rows.append(Row(f"{what}: official anthropic SDK", turns, "raw httpx2 Anthropic", None))
        cases.append(lambda: sdk_anthropic(sdk, turns, stream))
    measure_sync(rows, cases, rounds)
    # Each format against its own floor, so the Responses rows read against raw Responses.
    for floor in (2, 4):
        rows[floor].ratios = []
        rows[floor + 1].floor = rows[floor].name.split(": ", 1)[1].removesuffix(" (floor)")
        rows[floor + 1].ratios = [
            t / b for t, b in zip(rows[floor + 1].times, rows[floor].times, strict=True)
        ]
    for t in (anthropic, responses, chat):
        t.close()
    client.close()
    return rows


def _sdk(root: str) -> Any:
    try:
        import anthropic
    except ImportError:
        return None
    return anthropic.Anthropic(base_url=root, api_key=KEY, max_retries=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    quick = args.quick or os.environ.get("CONVO_BENCH_QUICK") == "1"
    rounds = 3 if quick else 7
    started = time.perf_counter()
    with serve() as base_url:
        rows = bench(base_url, 50 if quick else 200, rounds, stream=False)
        rows += bench(base_url, 5 if quick else 20, rounds, stream=True)
    data = [r.as_dict() for r in rows]
    path = os.environ.get("CONVO_BENCH_JSON")
    if path:
        Path(path).write_text(json.dumps({"rows": data}, indent=2))
    else:
        print(table(data))
    print(f"\nwall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
