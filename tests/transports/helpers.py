"""Helpers for the transport tests: requests, and running either API."""

from __future__ import annotations

from typing import Any

from convo.messages import Message
from convo.reply import Reply
from convo.request import Request
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


async def collect(t: OpenAITransport, request: Request, mode: str) -> list[Chunk]:
    if mode == "sync":
        return list(t.stream(request))
    return [chunk async for chunk in t.astream(request)]
