"""Every error status in OpenAI's shape, raised by the SDK as its own type; nothing
half-done stored; tenants; the 409 race; a client hanging up mid-stream."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serve.conftest import KEYS, UPSTREAM_KEY, Served, serve
from tests.support import ChatServer
from tests.support.chatserver import Answer, Drop, Events, error

openai = pytest.importorskip("openai")

HELLO = [{"role": "user", "content": "hi"}]


def history_of(served: Served, client: Any, conv: str) -> list[Any]:
    """What the upstream is sent for the next turn of ``conv``: the stored history."""
    client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "probe"}],
        extra_headers={"X-Convo-Conversation": conv},
    )
    return [m["content"] for m in served.upstream.requests[-1].json["messages"]][:-1]


def test_401_without_a_valid_key(keyed: Served) -> None:
    with pytest.raises(openai.AuthenticationError) as info:
        keyed.client("sk-wrong").chat.completions.create(model="m", messages=HELLO)
    assert info.value.status_code == 401
    assert info.value.body["type"] == "authentication_error"  # type: ignore[index]
    assert "sk-wrong" not in str(info.value)


def test_tenants_never_see_each_other(keyed: Served) -> None:
    alice, bob = keyed.client(KEYS[0]), keyed.client(KEYS[1])
    headers = {"X-Convo-Conversation": "same-name"}
    alice.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "alice secret"}], extra_headers=headers
    )
    bob.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "bob"}], extra_headers=headers
    )
    assert [m["content"] for m in keyed.upstream.requests[-1].json["messages"]] == ["bob"]
    assert history_of(keyed, alice, "same-name") == ["alice secret", "echo: alice secret"]


def test_400_invalid_conversation_id(served: Served) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        served.client().chat.completions.create(
            model="m", messages=HELLO, extra_headers={"X-Convo-Conversation": "no/such id"}
        )
    assert info.value.code == "invalid_id"


def test_400_bad_parameter_and_bad_messages(served: Served) -> None:
    client = served.client()
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="m", messages=HELLO, temperature=7)
    assert info.value.param == "temperature"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="m", messages=[{"role": "wizard", "content": "x"}])
    assert served.upstream.requests == []


@pytest.fixture
def small(upstream: ChatServer, tmp_path: Path) -> Iterator[Served]:
    yield from serve(upstream, f"sqlite:///{tmp_path / 's.db'}", max_body=2000)


def test_413_body_over_the_limit(small: Served) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        small.client().chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x" * 5000}]
        )
    assert info.value.status_code == 413


@pytest.mark.parametrize(
    ("upstream_status", "status", "kind"),
    [
        (400, 400, "BadRequestError"),
        (404, 404, "NotFoundError"),
        (422, 422, "UnprocessableEntityError"),
        (500, 502, "InternalServerError"),
        (503, 503, "InternalServerError"),
        (401, 502, "InternalServerError"),
    ],
)
def test_upstream_status_maps(served: Served, upstream_status: int, status: int, kind: str) -> None:
    served.upstream.script(error(upstream_status, f"upstream says {upstream_status}"))
    client = served.client(default_headers={"X-Convo-Conversation": "faulty"})
    with pytest.raises(getattr(openai, kind)) as info:
        client.chat.completions.create(model="m", messages=HELLO)
    assert info.value.status_code == status
    assert UPSTREAM_KEY not in str(info.value.body)
    assert history_of(served, client, "faulty") == []  # nothing half-done stored


def test_429_keeps_retry_after(served: Served) -> None:
    served.upstream.script(error(429, "slow down", headers={"retry-after": "7"}))
    with pytest.raises(openai.RateLimitError) as info:
        served.client().chat.completions.create(model="m", messages=HELLO)
    assert info.value.response.headers["retry-after"] == "7"


def test_502_on_a_dropped_upstream_connection(served: Served) -> None:
    served.upstream.script(Drop(reset=True))
    with pytest.raises(openai.InternalServerError) as info:
        served.client().chat.completions.create(model="m", messages=HELLO)
    assert info.value.status_code == 502


@pytest.fixture
def broken(upstream: ChatServer, tmp_path: Path) -> Iterator[Served]:
    def explode(model: str) -> Any:
        raise RuntimeError(f"the key is {UPSTREAM_KEY}")

    from convo.serve import ServeConfig, create_app
    from tests.serve.conftest import Uvicorn

    server = Uvicorn(
        create_app(ServeConfig(db=f"sqlite:///{tmp_path / 'b.db'}", transport_for=explode))
    ).start()
    try:
        yield Served(f"http://127.0.0.1:{server.port}/v1", upstream, ServeConfig())
    finally:
        server.stop()


def test_500_never_says_what_broke(broken: Served) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        broken.client().chat.completions.create(model="m", messages=HELLO)
    assert info.value.status_code == 500
    assert UPSTREAM_KEY not in str(info.value.body)


def test_upstream_reset_mid_stream_is_an_error_event_and_stores_nothing(served: Served) -> None:
    head = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    chunk = {
        **head,
        "choices": [{"index": 0, "delta": {"content": "part "}, "finish_reason": None}],
    }
    served.upstream.script(Events([chunk, chunk, chunk], disconnect_after=2, reset=True))
    client = served.client(default_headers={"X-Convo-Conversation": "reset"})
    stream = client.chat.completions.create(model="m", messages=HELLO, stream=True)
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass
    assert history_of(served, client, "reset") == []


async def test_409_when_two_requests_continue_one_conversation(served: Served) -> None:
    client = served.aclient(default_headers={"X-Convo-Conversation": "race"})
    await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "a"}])
    served.upstream.script(Answer("one", delay=0.5), Answer("two", delay=0.5))

    async def turn(text: str) -> Any:
        return await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": text}]
        )

    results = await asyncio.gather(turn("b"), turn("c"), return_exceptions=True)
    conflicts = [r for r in results if isinstance(r, openai.ConflictError)]
    done = [r for r in results if not isinstance(r, BaseException)]
    assert len(conflicts) == 1 and len(done) == 1, results
    assert conflicts[0].status_code == 409 and conflicts[0].code == "conversation_busy"
    winner = done[0].choices[0].message.content
    history = history_of(served, served.client(), "race")
    assert history[:2] == ["a", "echo: a"]
    assert history[3] == winner and len(history) == 4  # one whole turn, never both
    await client.close()


def test_client_disconnect_mid_stream_stores_nothing(served: Served) -> None:
    head = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    chunk = {**head, "choices": [{"index": 0, "delta": {"content": "w "}, "finish_reason": None}]}
    served.upstream.script(Events([chunk] * 40, delay=0.05))
    client = served.client(default_headers={"X-Convo-Conversation": "gone"})
    with client.chat.completions.with_streaming_response.create(
        model="m", messages=HELLO, stream=True
    ) as response:
        lines = response.iter_lines()
        next(lines), next(lines)  # the turn has begun
    # the server sees the hang-up, closes the upstream stream and commits nothing
    assert served.upstream.wait_idle(10)
    assert history_of(served, client, "gone") == []


def test_two_threads_sync_clients_race_too(served: Served) -> None:
    client = served.client(default_headers={"X-Convo-Conversation": "race2"})
    served.upstream.script(Answer("one", delay=0.5), Answer("two", delay=0.5))
    out: list[Any] = []

    def go(text: str) -> None:
        try:
            out.append(
                client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": text}]
                )
            )
        except openai.ConflictError as exc:
            out.append(exc)

    threads = [threading.Thread(target=go, args=(t,)) for t in ("b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(type(r).__name__ for r in out) == ["ChatCompletion", "ConflictError"]
    assert len(history_of(served, client, "race2")) == 2


def test_shutdown_finishes_the_turn_in_flight(upstream: ChatServer, tmp_path: Path) -> None:
    from convo.serve import ServeConfig, create_app
    from convo.store import SQLStore
    from convo.transports.openai import OpenAITransport
    from tests.serve.conftest import Uvicorn

    db = f"sqlite:///{tmp_path / 'g.db'}"
    config = ServeConfig(db=db, transport_for=lambda m: OpenAITransport(upstream.url))
    server = Uvicorn(create_app(config)).start()
    upstream.script(Answer("finished", delay=1.0))
    client = openai.OpenAI(
        base_url=f"http://127.0.0.1:{server.port}/v1",
        api_key="x",
        max_retries=0,
        default_headers={"X-Convo-Conversation": "inflight"},
    )
    out: list[Any] = []
    worker = threading.Thread(
        target=lambda: out.append(client.chat.completions.create(model="m", messages=HELLO))
    )
    worker.start()
    while not upstream.requests:  # the turn is under way
        threading.Event().wait(0.02)
    server.stop()  # graceful: stops accepting, lets the request finish
    worker.join(10)
    assert out and out[0].choices[0].message.content == "finished"
    with SQLStore(db) as store:
        assert [m.text for m in store.load("local.inflight").messages] == ["hi", "finished"]
