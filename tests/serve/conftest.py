"""A real `convo serve` app under uvicorn on 127.0.0.1, in front of the local test server.

The clients are the official ``openai`` SDK, sync and async, over real HTTP.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

openai = pytest.importorskip("openai")
uvicorn = pytest.importorskip("uvicorn")

from convo.serve import ServeConfig, create_app
from convo.transports.openai import OpenAITransport
from tests.support import ChatServer

UPSTREAM_KEY = "sk-upstream-secret-4242"
KEYS = ("sk-tenant-alice", "sk-tenant-bob")


@dataclass
class Served:
    url: str
    upstream: ChatServer
    config: ServeConfig
    clients: list[Any] = field(default_factory=list)

    def client(self, key: str = "none", **kw: Any) -> Any:
        client = openai.OpenAI(base_url=self.url, api_key=key, max_retries=0, **kw)
        self.clients.append(client)  # closed with the server: no socket left to the GC
        return client

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def aclient(self, key: str = "none", **kw: Any) -> Any:
        return openai.AsyncOpenAI(base_url=self.url, api_key=key, max_retries=0, **kw)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Uvicorn:
    """uvicorn serving ``app`` in a thread; ``stop()`` shuts it down gracefully."""

    def __init__(self, app: Any) -> None:
        self.port = _free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> Uvicorn:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def upstream() -> Iterator[ChatServer]:
    with ChatServer() as server:
        yield server


def serve(upstream: ChatServer, db: str, **config: Any) -> Iterator[Served]:
    def transport_for(model: str) -> OpenAITransport:
        return OpenAITransport(upstream.url, api_key=UPSTREAM_KEY, max_retries=0)

    cfg = ServeConfig(db=db, transport_for=transport_for, **config)
    server = Uvicorn(create_app(cfg)).start()
    served = Served(f"http://127.0.0.1:{server.port}/v1", upstream, cfg)
    try:
        yield served
    finally:
        served.close()
        server.stop()


@pytest.fixture
def served(upstream: ChatServer, tmp_path: Path) -> Iterator[Served]:
    """Open (no keys), SQLite."""
    yield from serve(upstream, f"sqlite:///{tmp_path / 'serve.db'}")


@pytest.fixture
def keyed(upstream: ChatServer, tmp_path: Path) -> Iterator[Served]:
    """Two tenants (``KEYS``), SQLite."""
    yield from serve(upstream, f"sqlite:///{tmp_path / 'serve.db'}", keys=KEYS)
