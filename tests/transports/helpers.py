"""Helpers for the transport tests: requests, and running either API."""

from __future__ import annotations

from typing import Any

from convo.messages import Message
from convo.reply import Reply
from convo.request import Request
from convo.streaming import RESPONSE_KEY
from convo.transports.base import Chunk
from convo.transports.openai import OpenAITransport
from convo.wire import build_body

KEY = "sk-test-4f1c9a7e2b8d6c3a5e0f"


def record_waits(t: OpenAITransport, sleeps: list[float]) -> None:
    async def asleep(delay: float) -> None:
        sleeps.append(delay)

    t._sleep = sleeps.append
    t._asleep = asleep


def make_request(content: str = "hello there", *, stream: bool = False, **params: Any) -> Request:
    messages = (Message.system("Be brief."), Message.user(content))
    body = build_body("test-model", messages, params, stream=stream)
    return Request("test-model", messages, body, stream=stream)


async def complete(t: OpenAITransport, request: Request, mode: str) -> Reply:
    if mode == "sync":
        return t.complete(request)
    return await t.acomplete(request)


async def collect_raw(t: OpenAITransport, request: Request, mode: str) -> list[Chunk]:
    """The chunks as the transport yields them (the first carries the response's info)."""
    if mode == "sync":
        return list(t.stream(request))
    return [chunk async for chunk in t.astream(request)]


async def collect(t: OpenAITransport, request: Request, mode: str) -> list[Chunk]:
    """The chunks as the server sent them (the response info taken off the first)."""
    chunks = await collect_raw(t, request, mode)
    if chunks:
        chunks[0] = {k: v for k, v in chunks[0].items() if k != RESPONSE_KEY}
    return chunks
