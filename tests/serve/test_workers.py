"""`convo serve --workers 2` on one PostgreSQL: the guarantees hold across processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.serve.conftest import KEYS, _free_port
from tests.support import ChatServer
from tests.support.chatserver import Answer

openai = pytest.importorskip("openai")
sqlalchemy = pytest.importorskip("sqlalchemy")

ADMIN = os.environ.get(
    "CONVO_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture
def pg_url() -> Iterator[str]:
    engine = sqlalchemy.create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as c:
            name = f"convo_t_{uuid.uuid4().hex[:16]}"
            c.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    except sqlalchemy.exc.OperationalError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("PostgreSQL is not running")
    try:
        yield ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with engine.connect() as c:
            c.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        engine.dispose()


@pytest.fixture
def two_workers(upstream: ChatServer, pg_url: str) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "OPENAI_BASE_URL": upstream.url, "OPENAI_API_KEY": "sk-up"}
    cmd = [
        sys.executable,
        "-m",
        "convo.cli",
        "serve",
        "--port",
        str(port),
        "--db",
        pg_url,
        "--workers",
        "2",
        *(a for k in KEYS for a in ("--api-key", k)),
    ]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        client = openai.OpenAI(base_url=url, api_key=KEYS[0], max_retries=0)
        deadline = time.monotonic() + 60
        while True:
            try:
                client.models.list()
                break
            except openai.APIConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


async def test_race_and_tenants_across_processes(two_workers: str, upstream: ChatServer) -> None:
    alice = openai.AsyncOpenAI(base_url=two_workers, api_key=KEYS[0], max_retries=0)
    bob = openai.AsyncOpenAI(base_url=two_workers, api_key=KEYS[1], max_retries=0)
    conv = await alice.conversations.create()
    upstream.script(*(Answer(f"r{i}", delay=0.5) for i in range(4)))

    async def turn(i: int) -> Any:
        return await alice.responses.create(model="m", input=f"q{i}", conversation=conv.id)

    results = await asyncio.gather(*(turn(i) for i in range(4)), return_exceptions=True)
    names = sorted(type(r).__name__ for r in results)
    assert names.count("Response") >= 1 and set(names) <= {"Response", "ConflictError"}, results
    items = await alice.conversations.items.list(conv.id, limit=100, order="asc")
    roles = [i.role for i in items.data]
    assert roles == ["user", "assistant"] * names.count("Response")  # whole turns only
    with pytest.raises(openai.NotFoundError):
        await bob.conversations.retrieve(conv.id)
    r = await alice.responses.create(model="m", input="chain")
    for _ in range(3):  # continued on whichever worker takes it
        r = await alice.responses.create(model="m", input="more", previous_response_id=r.id)
    assert len((await alice.responses.input_items.list(r.id)).data) == 1
    await alice.close()
    await bob.close()
