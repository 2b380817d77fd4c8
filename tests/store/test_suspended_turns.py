"""A suspended turn is stored: reloaded in another process, it is resumed there
(deferred approvals, external results), on every backend."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from convo import DEFER, Conversation, ToolResult
from convo.store.sql import SQLStore
from convo.transports.openai import OpenAITransport
from tests.support import ChatServer
from tests.support.chatserver import Answer

ROOT = Path(__file__).parent.parent.parent

CHILD = textwrap.dedent(
    """
    import sys
    from convo import Conversation, SQLStore
    from convo.transports.openai import OpenAITransport

    def pay(amount: int) -> str:
        '''Pay an amount.'''
        return f"paid {amount}"

    db, base_url, cid = sys.argv[1:4]
    with SQLStore(db) as store, OpenAITransport(base_url, api_key="sk-test") as t:
        conv = Conversation.load(cid, store=store, transport=t, tools=[pay])
        (call,) = conv.pending_tool_calls
        print(conv.resolve(call.id, approved=True).text)
    """
)


def pay(amount: int) -> str:
    """Pay an amount."""
    return f"paid {amount}"


def test_a_deferred_approval_is_resumed_in_another_process(db_url: str) -> None:
    with ChatServer() as server, SQLStore(db_url) as store:
        server.script(Answer(tool_calls=[("pay", {"amount": 5})]), Answer("Paid."))
        with OpenAITransport(server.url, api_key="sk-test") as transport:
            conv = Conversation(
                model="m", transport=transport, store=store, tools=[pay], approve=lambda c: DEFER
            )
            reply = conv.send("pay 5")
        assert reply.finish_reason == "tool_calls"
        stored = store.load(conv.id)
        assert [m.role for m in stored.messages] == ["user", "assistant"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        out = subprocess.run(
            [sys.executable, "-c", CHILD, db_url, server.url, conv.id],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "Paid."
        resumed = store.load(conv.id)
        assert [m.role for m in resumed.messages] == ["user", "assistant", "tool", "assistant"]
        assert resumed.messages[2].text == "paid 5"
        assert Conversation.load(conv.id, store=store).pending_tool_calls == ()
        sent = server.requests[1].json["messages"]
        assert [m["role"] for m in sent] == ["user", "assistant", "tool"]


def test_external_results_after_a_reload(db_url: str) -> None:
    weather = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
    with ChatServer() as server, SQLStore(db_url) as store:
        server.script(
            Answer(tool_calls=[("get_weather", {}), ("pay", {"amount": 2})]), Answer("Done.")
        )
        with OpenAITransport(server.url, api_key="sk-test") as transport:
            conv = Conversation(model="m", transport=transport, store=store, tools=[weather, pay])
            (call,) = conv.send("go").tool_calls
            again = Conversation.load(
                conv.id, store=store, transport=transport, tools=[weather, pay]
            )
            assert again.pending_tool_calls == (call,)
            assert again.send(ToolResult(call.id, "sunny")).text == "Done."
        answers = [m.text for m in store.load(conv.id).messages if m.role == "tool"]
        assert answers == ["sunny", "paid 2"]  # call order, each once
