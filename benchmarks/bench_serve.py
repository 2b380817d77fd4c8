"""`convo serve`: the latency it adds, and a load test on two workers over PostgreSQL.

    python benchmarks/bench_serve.py            # latency ratios (loopback, fast upstream)
    python benchmarks/bench_serve.py load       # 200 SDK clients x 5 turns, 2 workers, PG

Latency: the same Chat Completions request, sent with one keep-alive httpx client,
through (a) a minimal hand-written ASGI pass-through proxy on the same stack
(Starlette on uvicorn, forwarding with httpx2: the floor), (b) `convo serve`
stateless, (c) `convo serve` with a conversation header (a stateful turn: load, turn,
store write on SQLite). Each server runs in its own process; the upstream is the local
test server in another. Ratios are of medians over rounds, to the floor.

Load: `convo serve --workers 2` on a fresh PostgreSQL database in front of the local
test server, 10% of upstream answers faulted (500, 429, a dropped connection); 200
concurrent AsyncOpenAI clients (two tenants) each make a 5-turn chain through
previous_response_id. Checked: every turn completed or got a typed SDK error, no stored
response holds a half turn, no tenant read another's response. Reported: turns/s,
p50/p99 latency, peak RSS per worker.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
QUICK = os.environ.get("CONVO_BENCH_QUICK") == "1"
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello there!"}]}

PROXY = """
import httpx2, os
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
UP = os.environ["UPSTREAM"]
client = httpx2.AsyncClient()
async def forward(request):
    r = await client.post(UP + "/chat/completions", content=await request.body(),
                          headers={"content-type": "application/json", "authorization": "Bearer k"})
    return Response(r.content, r.status_code, media_type="application/json")
app = Starlette(routes=[Route("/v1/chat/completions", forward, methods=["POST"])])
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int, proc: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on {port} exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on {port} did not start")


def _start(cmd: list[str], port: int, env: dict[str, str]) -> subprocess.Popen[Any]:
    proc = subprocess.Popen(
        cmd,
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait(port, proc)
    return proc


def _stop(proc: subprocess.Popen[Any]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _upstream() -> tuple[subprocess.Popen[Any], str]:
    port = _port()
    cmd = [sys.executable, "-m", "tests.support.chatserver", "--port", str(port)]
    return _start(cmd, port, {}), f"http://127.0.0.1:{port}/v1"


def _serve(upstream: str, db: str, workers: int = 1, keys: tuple[str, ...] = ()) -> tuple[Any, int]:
    port = _port()
    cmd = [
        sys.executable,
        "-m",
        "convo.cli",
        "serve",
        "--port",
        str(port),
        "--db",
        db,
        "--workers",
        str(workers),
    ]
    for k in keys:
        cmd += ["--api-key", k]
    env = {"OPENAI_BASE_URL": upstream, "OPENAI_API_KEY": "sk-upstream"}
    return _start(cmd, port, env), port


def _time(client: httpx.Client, url: str, n: int, headers: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    for i in range(n):
        body = {**BODY, "messages": [{"role": "user", "content": f"Hello {i}"}]}
        r = client.post(url, json=body, headers=headers or {})
        r.raise_for_status()
    return (time.perf_counter() - started) / n


def latency() -> list[dict[str, Any]]:
    up, upstream = _upstream()
    procs = [up]
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-serve-{uuid.uuid4().hex[:8]}.db"
    try:
        pport = _port()
        proxy = _start(
            [
                sys.executable,
                "-c",
                PROXY + f"\nimport uvicorn\nuvicorn.run(app, port={pport}, log_level='warning')",
            ],
            pport,
            {"UPSTREAM": upstream},
        )
        procs.append(proxy)
        serve, sport = _serve(upstream, f"sqlite:///{tmp}")
        procs.append(serve)
        n, rounds = (30, 3) if QUICK else (200, 7)
        times: dict[str, list[float]] = {"direct": [], "floor": [], "stateless": [], "stateful": []}
        with httpx.Client(timeout=30) as client:
            urls = {
                "direct": f"{upstream}/chat/completions",
                "floor": f"http://127.0.0.1:{pport}/v1/chat/completions",
                "stateless": f"http://127.0.0.1:{sport}/v1/chat/completions",
            }
            for url in urls.values():
                _time(client, url, 10)  # warm up
            for r in range(rounds):
                for name, url in urls.items():
                    times[name].append(_time(client, url, n))
                # a fresh conversation per round, growing by n turns
                head = {"X-Convo-Conversation": f"bench-{r}"}
                times["stateful"].append(_time(client, urls["stateless"], n, head))
    finally:
        for p in reversed(procs):
            _stop(p)
        tmp.unlink(missing_ok=True)
    rows = []
    floor = statistics.median(times["floor"])
    direct = statistics.median(times["direct"])
    print(f"{'case':<34}{'ms/req':>8}{'x floor':>9}{'added x':>9}")
    for name in ("direct", "floor", "stateless", "stateful"):
        med = statistics.median(times[name])
        ratios = [c / f for c, f in zip(times[name], times["floor"], strict=True)]
        added = (med - direct) / (floor - direct) if floor > direct else float("nan")
        print(f"{name:<34}{med * 1e3:>8.3f}{statistics.median(ratios):>9.2f}{added:>9.2f}")
        rows.append(
            {
                "name": f"serve {name} vs pass-through proxy",
                "unit": "ms",
                "median": med * 1e3,
                "min": min(times[name]) * 1e3,
                "max": max(times[name]) * 1e3,
                "ratio": {
                    "median": statistics.median(ratios),
                    "min": min(ratios),
                    "max": max(ratios),
                },
                "added_vs_floor_added": added,
                "floor": "ASGI pass-through proxy",
            }
        )
    return rows


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def _peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


async def _load(port: int, keys: tuple[str, str], clients: int, turns: int) -> dict[str, Any]:
    import openai

    latencies: list[float] = []
    errors: dict[str, int] = {}
    chains: list[tuple[str, str, int]] = []  # (tenant key, last response id, turns done)

    async def chain(i: int) -> None:
        key = keys[i % 2]
        client = openai.AsyncOpenAI(
            base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0, timeout=120
        )
        prev, done = None, 0
        try:
            for t in range(turns):
                started = time.perf_counter()
                try:
                    r = await client.responses.create(
                        model="gpt-4o-mini", input=f"c{i} t{t}", previous_response_id=prev
                    )
                except openai.APIError as exc:  # typed: a status, or the connection
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    continue  # the chain goes on from the last good response
                latencies.append(time.perf_counter() - started)
                prev, done = r.id, done + 1
        finally:
            await client.close()
        if prev:
            chains.append((key, prev, done))

    started = time.perf_counter()
    await asyncio.gather(*(chain(i) for i in range(clients)))
    elapsed = time.perf_counter() - started
    # Cross-tenant reads: every chain's last response, asked for by the other tenant.
    cross = 0
    half = 0
    async with httpx.AsyncClient(timeout=60) as http:
        for key, rid, _done in chains:
            other = keys[1] if key == keys[0] else keys[0]
            url = f"http://127.0.0.1:{port}/v1/responses/{rid}"
            if (
                await http.get(url, headers={"Authorization": f"Bearer {other}"})
            ).status_code != 404:
                cross += 1
            items = await http.get(url + "/input_items", headers={"Authorization": f"Bearer {key}"})
            own = await http.get(url, headers={"Authorization": f"Bearer {key}"})
            out = own.json().get("output") or []
            if items.status_code != 200 or not out or out[-1].get("type") != "message":
                half += 1
    lat = sorted(latencies)
    return {
        "turns_ok": len(lat),
        "errors": errors,
        "elapsed": elapsed,
        "turns_per_s": len(lat) / elapsed,
        "p50_ms": lat[len(lat) // 2] * 1e3,
        "p99_ms": lat[int(len(lat) * 0.99) - 1] * 1e3,
        "cross_tenant_reads": cross,
        "half_turns": half,
        "chains": len(chains),
    }


def load() -> list[dict[str, Any]]:
    from sqlalchemy import create_engine, text

    from tests.support.chatserver import Answer, ChatServer, Drop, error

    clients, turns = (20, 5) if QUICK else (200, 5)
    admin_url = os.environ.get(
        "CONVO_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    name = f"convo_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    db = admin_url.rsplit("/", 1)[0] + f"/{name}"
    rng = random.Random(7)
    upstream = ChatServer().start()
    faults = [
        error(500, "boom"),
        error(429, "slow", headers={"retry-after": "0"}),
        Drop(reset=True),
    ]
    # The transport retries twice: about 10% of answers are faults, spread over the run.
    upstream.script(
        *(
            rng.choice(faults) if rng.random() < 0.10 else Answer("ok")
            for _ in range(clients * turns * 2)
        )
    )
    keys = ("sk-bench-a", "sk-bench-b")
    serve, port = _serve(upstream.url, db, workers=2, keys=keys)
    try:
        time.sleep(2)
        result = asyncio.run(_load(port, keys, clients, turns))
        workers = _children(serve.pid)
        result["peak_rss_mib_per_worker"] = [round(_peak_kib(p) / 1024, 1) for p in workers]
    finally:
        _stop(serve)
        upstream.stop()
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
    print(json.dumps(result, indent=2))
    return [
        {
            "name": "serve load: 2 workers, PostgreSQL, 10% faults",
            "unit": "turns/s",
            "median": result["turns_per_s"],
            **result,
        }
    ]


def main() -> None:
    rows = load() if sys.argv[1:] == ["load"] else latency()
    path = os.environ.get("CONVO_BENCH_JSON")
    if path:
        Path(path).write_text(json.dumps({"rows": rows}, indent=2))


if __name__ == "__main__":
    main()
