"""Fallback and a format switch with the real offline model behind llama_cpp.server.

llama-cpp-python's server speaks Chat Completions only (not ``/v1/messages`` nor
``/v1/responses``), so here the real model is the route a fallback lands on and the
peer a history continues with after turns taken over Anthropic's format.
"""

from __future__ import annotations

import json

from convo import Conversation
from convo.transports.fallback import FallbackTransport, Route
from convo.transports.openai import OpenAITransport
from tests.formats.conftest import make
from tests.formats.test_against_test_server import add
from tests.support import Answer, ChatServer, Drop, error


def test_a_fallback_lands_on_the_real_model(chat_server: ChatServer, llama_server: str) -> None:
    chat_server.script(error(503, "busy"), Drop(reset=True))
    with FallbackTransport(
        Route(OpenAITransport(chat_server.url, max_retries=0), name="down"),
        Route(OpenAITransport(llama_server, max_retries=0), name="local"),
    ) as t:
        conv = Conversation("Answer in one word.", model="local", transport=t)
        reply = conv.send("Say hi.", temperature=0, max_tokens=8)
        assert reply.text.strip() and reply.model == "local"
        with conv.stream("Say bye.", temperature=0, max_tokens=8) as s:
            assert "".join(s).strip()
    assert len(chat_server.requests) == 2


def test_a_history_from_anthropic_continues_on_the_real_model(
    chat_server: ChatServer, llama_server: str
) -> None:
    chat_server.script(Answer(tool_calls=[("add", {"a": 2, "b": 3})]), Answer("It is 5."))
    with make("anthropic", chat_server.url) as anthropic:
        conv = Conversation("Be brief.", model="claude-m", transport=anthropic, tools=[add])
        assert conv.send("2+3?").text == "It is 5."
    forced = {"type": "function", "function": {"name": "add"}}
    with OpenAITransport(llama_server, max_retries=0) as local:
        conv = Conversation(messages=conv.messages, model="local", transport=local, tools=[add])
        # The server only calls tools when forced (tests/support/llama_server.py); the
        # round then runs the tool and asks again, with the tool forced no longer.
        reply = conv.send(
            "And 4+4? Use the tool.", temperature=0, tool_choice=forced, max_tokens=64
        )
    calls = [m.tool_calls[0] for m in conv.messages if m.tool_calls]
    assert len(calls) >= 2 and calls[1].name == "add"
    assert set(json.loads(calls[1].arguments)) <= {"a", "b"}
    assert reply.finish_reason in ("stop", "length", "tool_calls")
