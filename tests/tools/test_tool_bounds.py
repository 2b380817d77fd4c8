"""Tools keep their promises at the edges: nested unknown fields, strict schemas, bounded
results, exact approvals, honest timeouts, and side effects that a retry does not repeat."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest
from pydantic import BaseModel
from typing_extensions import TypedDict

import convo
from convo.errors import ToolArgumentsError
from convo.messages import FunctionCall, ToolCall
from convo.tokens import TokenCounter
from convo.tools import PreparedCall, Tool, arun_all, prepare, run, run_all
from convo.transports.testing import tool_calls


class Stop(BaseModel):
    city: str


@dataclasses.dataclass
class Car:
    seats: int


class Hotel(TypedDict):
    stars: int


def plan(stops: list[Stop], car: Car, hotel: Hotel) -> str:
    """Plan a trip."""
    return "ok"


def _call(name: str, arguments: str, id: str = "c1") -> ToolCall:
    return ToolCall(id=id, function=FunctionCall(name=name, arguments=arguments))


# -- nested unknown fields -----------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "where"),
    [
        ('{"stops": [{"city": "a", "x": 1}], "car": {"seats": 2}, "hotel": {"stars": 3}}',
         "stops.0.x"),
        ('{"stops": [], "car": {"seats": 2, "x": 1}, "hotel": {"stars": 3}}', "car.x"),
        ('{"stops": [], "car": {"seats": 2}, "hotel": {"stars": 3, "x": 1}}', "hotel.x"),
    ],
)  # fmt: skip
def test_nested_unknown_fields_are_refused(arguments: str, where: str) -> None:
    t = Tool(plan)
    with pytest.raises(ToolArgumentsError) as info:
        t.validate(arguments)
    assert f"- {where}: not a field here (unknown fields are refused)" in str(info.value)


def test_nested_objects_say_so_in_the_schema() -> None:
    defs = Tool(plan).parameters["$defs"]
    assert {d["additionalProperties"] for d in defs.values()} == {False}


def test_an_unknown_top_level_field_still_names_the_parameters() -> None:
    with pytest.raises(ToolArgumentsError, match="not a parameter of this tool"):
        Tool(plan).validate('{"stops": [], "car": {"seats": 1}, "hotel": {"stars": 1}, "y": 0}')


# -- strict schemas ------------------------------------------------------------------


def test_strict_tool_sends_a_strict_schema() -> None:
    def find(query: str, limit: int = 5) -> list[str]:
        """Search."""
        return []

    fake = convo.ScriptedTransport("done")
    conv = convo.Conversation(
        model="gpt-4o-mini", transport=fake, tools=[Tool(find, strict=True), Tool(plan)]
    )
    conv.send("hi")
    strict, loose = fake.requests[0].body["tools"]
    assert strict["function"]["strict"] is True
    assert strict["function"]["parameters"]["required"] == ["query", "limit"]
    assert strict["function"]["parameters"]["additionalProperties"] is False
    assert "strict" not in loose["function"]


def test_a_schema_that_cannot_be_strict_fails_at_definition() -> None:
    def tag(values: dict[str, int]) -> None:
        """Free keys."""

    with pytest.raises(convo.ToolDefinitionError, match="free keys"):
        Tool(tag, strict=True)


# -- bounded results -----------------------------------------------------------------


def big() -> str:
    """A large result: about two characters a token, so a four-characters-a-token
    estimate would let through twice the limit."""
    return "a " * 200_000


@pytest.mark.parametrize("api", ["sync", "async"])
async def test_a_large_result_is_truncated_with_a_note(api: str) -> None:
    limit = 1_000
    fake = convo.ScriptedTransport(tool_calls(("big", {})), "summarized")
    tools = [Tool(big, max_result_tokens=limit)]
    if api == "sync":
        conv: Any = convo.Conversation(model="gpt-4o-mini", transport=fake, tools=tools)
        reply = conv.send("go")
    else:
        conv = convo.AsyncConversation(model="gpt-4o-mini", transport=fake, tools=tools)
        reply = await conv.send("go")
    assert reply.text == "summarized"
    text = conv.messages[2].text
    assert text.endswith("tokens, over the limit of 1,000]")
    assert text.startswith("a a a")
    # counted with the model's real tokenizer: within the limit, and not far below it
    used = TokenCounter("gpt-4o-mini").text(text)
    assert limit * 0.9 < used <= limit


def test_a_result_within_the_limit_is_untouched() -> None:
    prepared = prepare(convo.ToolRegistry([Tool(big, max_result_tokens=300_000)]), _call("big", ""))
    assert isinstance(prepared, PreparedCall)
    assert run(prepared, count_tokens=TokenCounter("gpt-4o").text).text == big()


def test_the_default_bound_holds_without_a_counter() -> None:
    prepared = prepare(convo.ToolRegistry([Tool(big, max_result_tokens=50)]), _call("big", ""))
    assert isinstance(prepared, PreparedCall)
    text = run(prepared).text
    assert "[truncated: the result has" in text and len(text) <= 50 * 4


# -- approvals -----------------------------------------------------------------------


RAN: list[str] = []


def charge(amount: int) -> str:
    """Charge the card."""
    RAN.append(f"charge {amount}")
    return f"charged {amount}"


@pytest.mark.parametrize("verdict", ["no", 1, "yes", [True], None, False])
async def test_only_true_runs_a_call_at_the_low_level(verdict: object) -> None:
    RAN.clear()
    prepared = prepare(convo.ToolRegistry([charge]), _call("charge", '{"amount": 1}'))
    assert isinstance(prepared, PreparedCall)
    answers = [
        run(prepared, approve=lambda _: verdict),  # type: ignore[arg-type,return-value]
        *run_all([prepared], approve=lambda _: verdict),  # type: ignore[arg-type,return-value]
        *await arun_all([prepared], approve=lambda _: verdict),  # type: ignore[arg-type,return-value]
    ]
    assert RAN == []
    assert all("refused" in a.text for a in answers)


# -- timeouts ------------------------------------------------------------------------


def test_a_timed_out_sync_tool_says_it_may_still_complete() -> None:
    release = threading.Event()

    def stuck() -> str:
        """Wait."""
        release.wait(5)
        return "late"

    try:
        answer = run(PreparedCall(_call("stuck", "{}"), Tool(stuck, timeout=0.05), {}))
    finally:
        release.set()
    assert answer.text == (
        "Error: the tool stuck did not finish within 0.05 seconds; "
        "it keeps running in the background and may still complete"
    )


async def test_a_timed_out_async_tool_says_it_was_cancelled() -> None:
    import asyncio

    async def forever() -> None:
        """Hang."""
        await asyncio.sleep(30)

    (answer,) = await arun_all([PreparedCall(_call("forever", "{}"), Tool(forever), {})],
                               default_timeout=0.05)  # fmt: skip
    assert answer.text.endswith("within 0.05 seconds; it was cancelled")


# -- tools that must not run twice ---------------------------------------------------


def _charging(approve: Any = None, *, idempotent: bool = False) -> tuple[convo.Conversation, Any]:
    RAN.clear()
    fake = convo.ScriptedTransport(
        tool_calls(("charge", {"amount": 5})),
        tool_calls(("charge", {"amount": 5})),  # the model retries the same call
        "done",
    )
    conv = convo.Conversation(
        model="gpt-4o-mini",
        transport=fake,
        tools=[Tool(charge, idempotent=idempotent)],
        approve=approve,
    )
    return conv, fake


def test_a_retry_of_a_non_idempotent_call_is_not_run_without_approval() -> None:
    conv, _ = _charging()
    assert conv.send("pay").text == "done"
    assert RAN == ["charge 5"]
    first, second = (m for m in conv.messages if m.role == "tool")
    assert first.text == "charged 5"
    assert second.text.startswith("Not run: this repeats an earlier call to charge")


def test_an_approved_retry_runs_again() -> None:
    asked: list[int] = []

    def approve(prepared: PreparedCall) -> bool:
        asked.append(prepared.arguments["amount"])
        return True

    conv, _ = _charging(approve)
    conv.send("pay")
    assert RAN == ["charge 5", "charge 5"] and asked == [5, 5]


def test_a_retry_with_other_arguments_or_of_an_idempotent_tool_runs() -> None:
    conv, _ = _charging(idempotent=True)
    conv.send("pay")
    assert RAN == ["charge 5", "charge 5"]
    RAN.clear()
    fake = convo.ScriptedTransport(
        tool_calls(("charge", {"amount": 5})), tool_calls(("charge", '{"amount": 6}')), "done"
    )
    conv = convo.Conversation(
        model="gpt-4o-mini", transport=fake, tools=[Tool(charge, idempotent=False)]
    )
    conv.send("pay")
    assert RAN == ["charge 5", "charge 6"]


def test_the_same_call_twice_in_one_round_runs_once() -> None:
    RAN.clear()
    fake = convo.ScriptedTransport(
        tool_calls(("charge", {"amount": 5}), ("charge", '{ "amount" : 5 }')), "done"
    )
    conv = convo.Conversation(
        model="gpt-4o-mini", transport=fake, tools=[Tool(charge, idempotent=False)]
    )
    conv.send("pay")
    assert RAN == ["charge 5"]
    assert conv.messages[3].text.startswith("Not run: this repeats")
