"""Cassettes: record against a real server on 127.0.0.1, replay with it stopped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import convo
from convo.errors import (
    BadRequestError,
    CassetteError,
    CassetteMismatchError,
    RateLimitError,
    StreamError,
)
from convo.testing import Cassette, ScriptedTransport
from convo.transports.openai import OpenAITransport
from tests.support import ChatServer
from tests.support.chatserver import Answer, Events, error

KEY = "sk-proj-Zx81Qm4Tn7Wc2Ye5Ru9Io3Pa6Sd0Fg"


class City(BaseModel):
    name: str


@convo.tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def _conv(mode: str, transport: Any, **kw: Any) -> Any:
    cls = convo.Conversation if mode == "sync" else convo.AsyncConversation
    return cls("Be brief.", model="gpt-4o-mini", transport=transport, **kw)


async def _send(conv: Any, text: str, **params: Any) -> convo.Reply:
    if isinstance(conv, convo.AsyncConversation):
        return await conv.send(text, **params)
    return conv.send(text, **params)


async def _stream(conv: Any, text: str) -> tuple[list[str], convo.Reply]:
    if isinstance(conv, convo.AsyncConversation):
        s = conv.stream(text)
        deltas = [d async for d in s]
    else:
        s = conv.stream(text)
        deltas = list(s)
    return [str(d) for d in deltas], s.reply


async def _script_run(conv: Any) -> list[Any]:
    """One of every kind of exchange; returns what the caller saw."""
    seen: list[Any] = []
    seen.append((await _send(conv, "Hello")).text)
    seen.append(await _stream(conv, "Stream this"))
    seen.append((await _send(conv, "Add 2 and 3")).text)
    seen.append((await _send(conv, "Capital of Norway?", response_format=City)).parsed)
    with pytest.raises(BadRequestError) as bad:
        await _send(conv, "Refused")
    seen.append((bad.value.status_code, str(bad.value)))
    with pytest.raises(StreamError) as broken:
        await _stream(conv, "Break mid-stream")
    seen.append(str(broken.value))
    seen.append([m.role for m in conv.messages])
    return seen


def _queue(server: ChatServer) -> None:
    server.script(
        Answer("Hi there."),
        Answer("Streamed answer, in parts."),
        Answer(tool_calls=[("add", {"a": 2, "b": 3})]),
        Answer("It is 5."),
        Answer('{"name": "Oslo"}'),
        error(400, "this request is refused"),
        Events(
            [
                {"choices": [{"index": 0, "delta": {"content": "Par"}}]},
                {"error": {"message": "the model crashed", "type": "server_error"}},
            ]
        ),
    )


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_record_then_replay_with_the_server_stopped(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "tape.json"
    with ChatServer() as server:
        _queue(server)
        url = server.url
        http = OpenAITransport(url, api_key=KEY, max_retries=0)
        tape = Cassette(path, http)
        assert tape.mode == "record"
        recorded = await _script_run(_conv(mode, tape, tools=[add]))
        tape.close()
        served = len(server.requests)
    assert served == 7  # the tool round is two requests
    # The server is gone: a transport pointed at it would fail to connect.
    dead = OpenAITransport(url, api_key=KEY, max_retries=0)
    with Cassette(path, dead, strict=True) as tape:
        assert tape.mode == "replay"
        replayed = await _script_run(_conv(mode, tape, tools=[add]))
    assert replayed == recorded
    assert len(recorded[1][0]) > 1  # the stream came in several deltas, and so it replays


def test_stream_chunks_keep_their_boundaries(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    chunks = [
        {"choices": [{"index": 0, "delta": {"content": "a"}}]},
        {"choices": [{"index": 0, "delta": {"content": "bc"}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    with Cassette(path, ScriptedTransport(chunks)) as tape:
        assert list(convo.Conversation(model="m", transport=tape).stream("x")) == ["a", "bc"]
    saved = json.loads(path.read_text())["interactions"][0]
    assert saved["stream"] is True
    assert saved["chunks"] == chunks
    seen: list[Any] = []

    class Spy(Cassette):
        def stream(self, request: convo.Request) -> Any:
            for chunk in super().stream(request):
                seen.append(chunk)
                yield chunk

    with Spy(path) as tape:
        assert list(convo.Conversation(model="m", transport=tape).stream("x")) == ["a", "bc"]
    assert seen == chunks


def test_a_mismatch_shows_the_closest_recording_and_the_difference(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    with Cassette(path, ScriptedTransport("one", "two")) as tape:
        conv = convo.Conversation(model="m", transport=tape, temperature=0.5)
        conv.send("What is the capital of France?")
    with Cassette(path) as tape:
        conv = convo.Conversation(model="m", transport=tape, temperature=0.7)
        with pytest.raises(CassetteMismatchError) as info:
            conv.send("What is the capital of France?")
    err = info.value
    assert err.closest["temperature"] == 0.5
    assert '-  "temperature": 0.5' in err.diff
    assert '+  "temperature": 0.7' in err.diff
    assert "closest is #0" in str(err)
    assert conv.messages[1:] == []  # the failed turn changed nothing


def test_identical_requests_replay_in_order_then_run_out(tmp_path: Path) -> None:
    path = tmp_path / "o.json"
    fake = ScriptedTransport("first", "second")
    with Cassette(path, fake) as tape:
        assert [tape.complete(_request("same")).text for _ in range(2)] == ["first", "second"]
    with Cassette(path) as tape:
        assert [tape.complete(_request("same")).text for _ in range(2)] == ["first", "second"]
        with pytest.raises(CassetteMismatchError, match="all 2 recorded interactions were played"):
            tape.complete(_request("same"))


def test_strict_mode_fails_on_unplayed_interactions(tmp_path: Path) -> None:
    path = tmp_path / "u.json"
    with Cassette(path, ScriptedTransport("a", "b")) as tape:
        tape.complete(_request("one"))
        tape.complete(_request("two"))
    tape = Cassette(path, strict=True)
    tape.complete(_request("one"))
    assert tape.unplayed == [1]
    with pytest.raises(
        CassetteError, match=r"1 recorded interaction\(s\) were never played \(#1\)"
    ):
        tape.close()
    relaxed = Cassette(path)
    relaxed.complete(_request("two"))
    relaxed.close()  # not strict: fine


def test_replay_mode_needs_the_file_and_record_needs_a_transport(tmp_path: Path) -> None:
    with pytest.raises(CassetteError, match="needs a transport"):
        Cassette(tmp_path / "none.json")
    with pytest.raises(CassetteError, match="cannot be read"):
        Cassette(tmp_path / "none.json", mode="replay")
    (tmp_path / "bad.json").write_text('{"interactions": []}')
    with pytest.raises(CassetteError, match="not a convo cassette"):
        Cassette(tmp_path / "bad.json")


def test_a_cassette_never_builds_a_class_outside_convos_errors(tmp_path: Path) -> None:
    path = tmp_path / "evil.json"
    body = convo.Conversation(model="m", transport=ScriptedTransport()).prepare("x").body
    entry = {"request": body, "stream": False, "error": {"type": "SystemExit", "message": ""}}
    path.write_text(json.dumps({"convo_cassette": 1, "interactions": [entry]}))
    with pytest.raises(CassetteError, match="unknown error type 'SystemExit'"):
        Cassette(path).complete(_request("x"))


def test_secrets_never_reach_the_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.json"
    env_secret = "hunter2-very-private"
    with ChatServer() as server:
        server.script(
            Answer(f"I saw {KEY}"),
            error(401, f"Incorrect API key provided: {KEY}. Bearer {KEY}"),
        )
        http = OpenAITransport(server.url, api_key=KEY, max_retries=0)
        with Cassette(path, http, secrets=[env_secret]) as tape:
            conv = convo.Conversation(model="m", transport=tape, user=env_secret)
            conv.send(f"my key is {KEY}, see https://x.test/v1?key={KEY}&a=1")
            with pytest.raises(convo.errors.AuthenticationError):
                conv.send("again")
        assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    text = path.read_text()
    assert KEY not in text
    assert env_secret not in text
    assert "<scrubbed>" in text
    # A scrubbed recording still matches the live (unscrubbed) request.
    with Cassette(path, secrets=[env_secret], strict=True) as tape:
        conv = convo.Conversation(model="m", transport=tape, user=env_secret)
        assert (
            "<scrubbed>" in conv.send(f"my key is {KEY}, see https://x.test/v1?key={KEY}&a=1").text
        )
        with pytest.raises(convo.errors.AuthenticationError) as info:
            conv.send("again")
        assert KEY not in str(info.value)


def test_rate_limit_attributes_survive_replay(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    with ChatServer() as server:
        server.script(error(429, "slow down", headers={"retry-after": "7"}))
        http = OpenAITransport(server.url, api_key=KEY, max_retries=0)
        with Cassette(path, http) as tape, pytest.raises(RateLimitError) as live:
            tape.complete(_request("x"))
    with Cassette(path) as tape, pytest.raises(RateLimitError) as again:
        tape.complete(_request("x"))
    assert again.value.retry_after == live.value.retry_after == 7
    assert again.value.status_code == 429
    assert str(again.value) == str(live.value)


def test_the_structured_output_mode_of_the_wrapped_transport_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    inner = ScriptedTransport("x")
    inner.structured_output = "tools"
    with Cassette(path, inner) as tape:
        assert tape.structured_output == "tools"
        tape.complete(_request("a"))
    assert Cassette(path).structured_output == "tools"


def _request(text: str) -> convo.Request:
    return convo.Conversation(model="m", transport=ScriptedTransport()).prepare(text)


def test_an_in_process_local_model_records_and_replays(tmp_path: Path) -> None:
    from tests.support import require

    require("llama_cpp", "needs llama-cpp-python")
    require("convo_llamacpp", "needs the convo-llamacpp plugin")
    from convo_llamacpp.transport import LlamaCppTransport

    path = tmp_path / "local.json"
    local = LlamaCppTransport()
    with Cassette(path, local) as tape:
        conv = convo.Conversation(model="local", transport=tape, temperature=0, max_tokens=12)
        said = conv.send("Say hello.").text
        streamed = list(conv.stream("Say goodbye."))
    with Cassette(path, strict=True) as tape:  # no model at all now
        conv = convo.Conversation(model="local", transport=tape, temperature=0, max_tokens=12)
        assert conv.send("Say hello.").text == said
        assert list(conv.stream("Say goodbye.")) == streamed
