"""``POST /v1/chat/completions`` (stateless, or with memory) and ``GET /v1/models``.

Stateless by default: the request's messages are the history, fitted to the model's
window by convo's budget instead of failing when they are too long. With the header
``X-Convo-Conversation: <id>`` the server keeps the history: the client sends only the
new messages (a user message, or the results of the tool calls it was given). Function
tools the client sends are external: the model's calls come back to the client as
``tool_calls`` and are answered with ``tool`` messages, as with any OpenAI server.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from convo import models
from convo.budget import context_window
from convo.conversation import AsyncConversation
from convo.events import Finished, TextDelta
from convo.reply import Reply, Usage
from convo.serve import sse
from convo.serve.app import Service, json_response, read_json, route
from convo.serve.errors import ApiError, error_body, from_exception
from convo.serve.memory import open_conversation, split_new
from convo.serve.tenants import check_id, new_id
from convo.wire import message_to_wire

__all__ = ["HEADER", "routes"]

HEADER = "x-convo-conversation"
# Request fields convo passes on to the model as they are (checked by convo's params).
_PASSED = (
    "temperature",
    "top_p",
    "n",
    "stop",
    "max_tokens",
    "max_completion_tokens",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "seed",
    "user",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "reasoning_effort",
)


def routes() -> list[Route]:
    return [
        Route("/v1/chat/completions", completions, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
    ]


@route
async def list_models(request: Request, service: Service, tenant: str) -> Response:
    names = sorted({*models.model_names(), *service.config.aliases})
    # context_window is convo's own field: the window the server fits histories to.
    data = [
        {"id": n, "object": "model", "created": 0, "owned_by": "convo",
         "context_window": context_window(service.model(n))}
        for n in names
    ]  # fmt: skip
    return json_response({"object": "list", "data": data})


@route
async def completions(request: Request, service: Service, tenant: str) -> Response:
    body = await read_json(request, service.config.max_body)
    model = service.model(body.get("model"))
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise ApiError(400, "messages must be a list", param="messages", code="invalid_messages")
    tools = body.get("tools") or None
    if tools is not None and not isinstance(tools, list):
        raise ApiError(400, "tools must be a list", param="tools", code="invalid_tools")
    params = {k: body[k] for k in _PASSED if k in body and body[k] is not None}
    named = request.headers.get(HEADER)
    content: Any
    if named is None:
        if not messages:
            raise ApiError(
                400, "messages must not be empty", param="messages", code="invalid_messages"
            )
        conv = AsyncConversation(
            model=model, messages=messages, transport=service.transport(model), tools=tools
        )
        content = None
    else:
        public = check_id(named, "conversation")
        request.state.conversation = public
        system, content = split_new(messages)
        conv = await open_conversation(service, tenant, public, model, system=system, tools=tools)
    headers = {"X-Convo-Conversation": named} if named else {}
    completion_id = new_id("chatcmpl")
    if not body.get("stream"):
        reply = await conv.send(content, **params)
        return json_response(_completion(completion_id, model, reply), headers=headers)
    options = body.get("stream_options") or {}
    stream = conv.stream(content, **params)
    events = stream.events()
    first = await _first(events)  # a failure before any output is a plain error status
    chunks = _chunks(completion_id, model, first, events, bool(options.get("include_usage")))
    return StreamingResponse(
        chunks, media_type="text/event-stream", headers={**sse.HEADERS, **headers}
    )


async def _first(events: AsyncIterator[Any]) -> Any:
    async for event in events:
        if type(event) in (TextDelta, Finished):
            return event
    raise ApiError(502, "the turn ended without a reply", code="upstream_error")


async def _chunks(
    cid: str, model: str, first: Any, events: AsyncIterator[Any], usage: bool
) -> AsyncIterator[bytes]:
    created = int(time.time())
    head = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model}

    def chunk(delta: dict[str, Any], reason: str | None = None, index: int = 0) -> bytes:
        choice = {"index": index, "delta": delta, "finish_reason": reason, "logprobs": None}
        return sse.frame({**head, "choices": [choice]})

    try:
        yield chunk({"role": "assistant", "content": ""})
        event = first
        while True:
            if type(event) is TextDelta:
                yield chunk({"content": event.text})
            elif type(event) is Finished:
                reply: Reply = event.reply
                for choice in reply.choices:
                    wire = message_to_wire(choice.message)
                    delta: dict[str, Any] = {}
                    if choice.index != reply.chosen:
                        delta = {"role": "assistant", "content": wire.get("content")}
                    if "tool_calls" in wire:
                        delta["tool_calls"] = [
                            {"index": k, **call} for k, call in enumerate(wire["tool_calls"])
                        ]
                    if delta:
                        yield chunk(delta, index=choice.index)
                    yield chunk({}, choice.finish_reason, choice.index)
                if usage:
                    yield sse.frame({**head, "choices": [], "usage": _usage(reply.usage)})
                break
            event = await anext(events, None)
            if event is None:
                break
        yield sse.DONE
    except Exception as exc:  # after the first byte, an error is an event of the stream
        body, _, _ = error_body(from_exception(exc))
        yield sse.frame(body)
    finally:
        await events.aclose()  # type: ignore[attr-defined]


def _usage(usage: Usage | None) -> dict[str, int]:
    u = usage or Usage()
    return {
        "prompt_tokens": u.prompt_tokens or 0,
        "completion_tokens": u.completion_tokens or 0,
        "total_tokens": u.total_tokens or 0,
    }


def _completion(cid: str, model: str, reply: Reply) -> dict[str, Any]:
    choices = []
    for choice in reply.choices:
        message = dict(message_to_wire(choice.message))
        if message.get("tool_calls") and not message.get("content"):
            message["content"] = None
        choices.append(
            {
                "index": choice.index,
                "message": message,
                "finish_reason": choice.finish_reason,
                "logprobs": choice.logprobs,
            }
        )
    return {
        "id": cid,
        "object": "chat.completion",
        "created": reply.created or int(time.time()),
        "model": reply.model or model,
        "choices": choices,
        "usage": _usage(reply.usage),
    }
