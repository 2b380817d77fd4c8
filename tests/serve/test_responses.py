"""The Responses API through `convo serve`, with the official SDK."""

from __future__ import annotations

import json

import pytest

from tests.serve.conftest import KEYS, Served
from tests.support.chatserver import Answer

openai = pytest.importorskip("openai")

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def sent(served: Served) -> list[tuple[str, str]]:
    return [
        (m["role"], m.get("content") or "") for m in served.upstream.requests[-1].json["messages"]
    ]


def test_five_turn_chain_through_previous_response_id(served: Served) -> None:
    client = served.client()
    prev = None
    for i in range(5):
        r = client.responses.create(
            model="m", input=f"turn {i}", previous_response_id=prev, instructions="Be brief."
        )
        assert r.output_text == f"echo: turn {i}"
        assert r.previous_response_id == prev
        prev = r.id
    history = sent(served)
    assert history[0] == ("system", "Be brief.")
    assert [c for _, c in history[1:]] == [
        x for i in range(5) for x in (f"turn {i}", f"echo: turn {i}")
    ][:-1]
    got = client.responses.retrieve(prev)
    assert got.output_text == "echo: turn 4" and got.status == "completed"
    items = client.responses.input_items.list(prev)
    assert [i.content[0].text for i in items.data] == ["turn 4"]


async def test_async_chain_branches_from_one_response(served: Served) -> None:
    client = served.aclient()
    root = await client.responses.create(model="m", input="root")
    a = await client.responses.create(model="m", input="a", previous_response_id=root.id)
    b = await client.responses.create(model="m", input="b", previous_response_id=root.id)
    assert sent(served)[-1] == ("user", "b") and ("user", "a") not in sent(served)
    await client.responses.create(model="m", input="a2", previous_response_id=a.id)
    assert [c for _, c in sent(served)] == ["root", "echo: root", "a", "echo: a", "a2"]
    assert b.id != a.id
    await client.close()


def test_delete_and_404(served: Served) -> None:
    client = served.client()
    r = client.responses.create(model="m", input="x")
    client.responses.delete(r.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(r.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="m", input="y", previous_response_id=r.id)


def test_store_false_is_not_kept(served: Served) -> None:
    client = served.client()
    r = client.responses.create(model="m", input="x", store=False)
    assert r.output_text == "echo: x"
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(r.id)


def test_another_tenants_response_is_a_404(keyed: Served) -> None:
    alice, bob = keyed.client(KEYS[0]), keyed.client(KEYS[1])
    r = alice.responses.create(model="m", input="alice secret")
    with pytest.raises(openai.NotFoundError):
        bob.responses.retrieve(r.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.create(model="m", input="steal", previous_response_id=r.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.delete(r.id)
    assert alice.responses.retrieve(r.id).output_text == "echo: alice secret"


@pytest.mark.parametrize("stream", [False, True])
def test_function_tools_round_trip_through_the_client(served: Served, stream: bool) -> None:
    served.upstream.script(Answer(tool_calls=[("get_weather", {"city": "Oslo"})]), Answer("18C."))
    client = served.client()
    if stream:
        events = list(
            client.responses.create(model="m", input="Weather?", tools=[WEATHER], stream=True)
        )
        first = events[-1].response
        assert events[-1].type == "response.completed"
    else:
        first = client.responses.create(model="m", input="Weather?", tools=[WEATHER])
    (call,) = [o for o in first.output if o.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Oslo"}
    done = client.responses.create(
        model="m",
        previous_response_id=first.id,
        tools=[WEATHER],
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "18"}],
    )
    assert done.output_text == "18C."
    assert [r for r, _ in sent(served)] == ["user", "assistant", "tool"]


def test_stream_events(served: Served) -> None:
    client = served.client()
    events = list(client.responses.create(model="m", input="one two", stream=True))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "echo: one two"
    assert events[-1].response.output_text == "echo: one two"
    again = client.responses.create(
        model="m", input="three", previous_response_id=events[-1].response.id
    )
    assert [c for _, c in sent(served)] == ["one two", "echo: one two", "three"]
    assert again.output_text == "echo: three"


async def test_stream_with_the_sdk_helper(served: Served) -> None:
    client = served.aclient()
    async with client.responses.stream(model="m", input="helper") as stream:
        async for _ in stream:
            pass
        final = await stream.get_final_response()
    assert final.output_text == "echo: helper"
    await client.close()
