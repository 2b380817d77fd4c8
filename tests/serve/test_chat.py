"""Chat Completions through `convo serve`, with the official SDK: stateless and with memory."""

from __future__ import annotations

import pytest

from tests.serve.conftest import UPSTREAM_KEY, Served

openai = pytest.importorskip("openai")


def test_stateless_completion_is_the_seed_request(served: Served) -> None:
    client = served.client()
    reply = client.chat.completions.create(
        model="gpt-4",
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Hello!"},
        ],
        temperature=0.7,
        max_tokens=150,
    )
    assert reply.choices[0].message.content == "echo: Hello!"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.object == "chat.completion"
    assert reply.usage is not None and reply.usage.total_tokens > 0
    sent = served.upstream.requests[-1]
    assert sent.json["temperature"] == 0.7
    assert [m["role"] for m in sent.json["messages"]] == ["system", "user"]
    assert UPSTREAM_KEY in sent.headers.get("authorization", "")  # the server's key, upstream only


def test_stateless_requests_share_nothing(served: Served) -> None:
    client = served.client()
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "one"}])
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "two"}])
    assert [m["content"] for m in served.upstream.requests[-1].json["messages"]] == ["two"]


def test_n_choices(served: Served) -> None:
    reply = served.client().chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], n=2
    )
    assert [c.message.content for c in reply.choices] == ["echo: hi", "echo: hi #1"]


def test_conversation_header_keeps_the_history(served: Served) -> None:
    client = served.client(default_headers={"X-Convo-Conversation": "chat-1"})
    first = client.chat.completions.create(
        model="m",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "a"}],
    )
    assert first.choices[0].message.content == "echo: a"
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "b"}])
    sent = served.upstream.requests[-1].json["messages"]
    assert [(m["role"], m["content"]) for m in sent] == [
        ("system", "Be brief."),
        ("user", "a"),
        ("assistant", "echo: a"),
        ("user", "b"),
    ]


async def test_async_client_with_memory(served: Served) -> None:
    client = served.aclient(default_headers={"X-Convo-Conversation": "async-1"})
    for word in ("x", "y", "z"):
        reply = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": word}]
        )
        assert reply.choices[0].message.content == f"echo: {word}"
    sent = served.upstream.requests[-1].json["messages"]
    assert [m["content"] for m in sent] == ["x", "echo: x", "y", "echo: y", "z"]
    await client.close()


def test_a_changed_system_prompt_is_refused(served: Served) -> None:
    client = served.client(default_headers={"X-Convo-Conversation": "sys-1"})
    client.chat.completions.create(
        model="m", messages=[{"role": "system", "content": "A"}, {"role": "user", "content": "a"}]
    )
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="m",
            messages=[{"role": "system", "content": "B"}, {"role": "user", "content": "b"}],
        )
    assert info.value.code == "system_prompt_mismatch"


def test_stream_stateless(served: Served) -> None:
    stream = served.client().chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "one two three"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: one two three"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


async def test_stream_with_memory_async(served: Served) -> None:
    client = served.aclient(default_headers={"X-Convo-Conversation": "s-1"})
    for word in ("alpha", "beta"):
        stream = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": word}], stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert text == f"echo: {word}"
    sent = served.upstream.requests[-1].json["messages"]
    assert [m["content"] for m in sent] == ["alpha", "echo: alpha", "beta"]
    await client.close()


def test_long_stateless_history_is_fitted_not_refused(served: Served) -> None:
    big = "word " * 3000
    messages = []
    for i in range(50):
        messages += [
            {"role": "user", "content": f"{i} {big}"},
            {"role": "assistant", "content": "ok"},
        ]
    messages.append({"role": "user", "content": "last"})
    reply = served.client().chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert reply.choices[0].message.content == "echo: last"
    sent = served.upstream.requests[-1].json["messages"]
    assert len(sent) < len(messages) and sent[-1]["content"] == "last"


def test_models_and_health(served: Served) -> None:
    names = [m.id for m in served.client().models.list()]
    assert "gpt-4o-mini" in names
