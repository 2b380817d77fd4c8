"""``/v1/responses``: the Responses API, with ``previous_response_id`` kept in the store.

Each stored response is a stored conversation of its own, named by the response's id:
its history is the chain up to and including the response's output, written in the
turn's one transaction (the earlier history is copied in, so a response never depends
on another being kept, and deleting one leaves every other intact). A header record
(``serve:response``) says where the response's input begins and what it was asked
with, so ``GET /v1/responses/{id}`` rebuilds the object from the stored messages.
``store: false`` runs the turn in memory only: the response cannot be continued or
retrieved. With ``conversation`` the turn is appended to that conversation instead
(see :mod:`convo.serve.conversations`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from convo.conversation import AsyncConversation
from convo.events import Finished, TextDelta
from convo.messages import Message
from convo.reply import Reply, Usage
from convo.serve import sse
from convo.serve.app import Service, json_response, read_json, route
from convo.serve.errors import ApiError, error_body, from_exception
from convo.serve.items import chat_tools, to_items, to_messages
from convo.serve.tenants import check_id, new_id, stored_id
from convo.store.base import StoredConversation

__all__ = ["RECORD", "routes"]

RECORD = "serve:response"
_PASSED = {
    "temperature": "temperature",
    "top_p": "top_p",
    "max_output_tokens": "max_tokens",
    "tool_choice": "tool_choice",
    "parallel_tool_calls": "parallel_tool_calls",
    "user": "user",
}


def routes() -> list[Route]:
    return [
        Route("/v1/responses", create, methods=["POST"]),
        Route("/v1/responses/{id}", retrieve, methods=["GET"]),
        Route("/v1/responses/{id}", delete, methods=["DELETE"]),
        Route("/v1/responses/{id}/input_items", input_items, methods=["GET"]),
    ]


async def _load(service: Service, tenant: str, rid: str) -> StoredConversation:
    stored = await service.store.load(stored_id(tenant, check_id(rid, "response_id")))
    if RECORD not in stored.header.metadata:  # a conversation's id is not a response's
        raise ApiError(404, "no such response", code="not_found")
    return stored


@route
async def create(request: Request, service: Service, tenant: str) -> Response:
    body = await read_json(request, service.config.max_body)
    model = service.model(body.get("model"))
    new = to_messages(body.get("input"))
    tools = chat_tools(body.get("tools"))
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise ApiError(400, "instructions must be text", param="instructions")
    user_meta = body.get("metadata") or {}
    if not isinstance(user_meta, dict):
        raise ApiError(400, "metadata must be an object", param="metadata")
    params = {v: body[k] for k, v in _PASSED.items() if body.get(k) is not None}
    prev = body.get("previous_response_id")
    keep = body.get("store", True) is not False
    if body.get("conversation") is not None:
        from convo.serve.conversations import respond_in_conversation

        return await respond_in_conversation(
            request, service, tenant, body, model, new, tools, params, instructions, user_meta
        )
    history: list[Message] = []
    if prev is not None:
        history = list((await _load(service, tenant, prev)).messages)
    rid = new_id("resp")
    record = {
        "prev": prev,
        "input_start": len(history),
        "input_count": len(new),
        "instructions": instructions,
        "metadata": user_meta,
    }
    conv = AsyncConversation(
        instructions,
        model=model,
        messages=[*history, *new],
        id=stored_id(tenant, rid),
        store=service.store if keep else None,
        transport=service.transport(model),
        tools=tools,
        metadata={RECORD: record},
    )
    shape = Shape(rid, model, record, body, keep, None)
    if not body.get("stream"):
        reply = await conv.send(None, **params)
        return json_response(shape.response(conv.history, reply.turn_usage or reply.usage))
    stream = conv.stream(None, **params)
    return await stream_response(stream.events(), shape, conv)


class Shape:
    """How one response looks on the wire (its object and its stream's events)."""

    def __init__(
        self,
        rid: str,
        model: str,
        record: dict[str, Any],
        body: dict[str, Any],
        keep: bool,
        conversation: str | None,
        created: int | None = None,
    ) -> None:
        self.rid, self.model, self.record, self.body = rid, model, record, body
        self.keep, self.conversation = keep, conversation
        self.created = created or int(time.time())

    def response(
        self, history: Any, usage: Usage | None, status: str = "completed", start: int | None = None
    ) -> dict[str, Any]:
        begin = self.record["input_start"] + self.record["input_count"]
        output = (
            []
            if start is None and status == "in_progress"
            else to_items(list(history)[begin:], self.rid)
        )
        u = usage or Usage()
        return {
            "id": self.rid,
            "object": "response",
            "created_at": self.created,
            "status": status,
            "model": self.model,
            "output": output,
            "instructions": self.record.get("instructions"),
            "metadata": self.record.get("metadata") or {},
            "previous_response_id": self.record.get("prev"),
            "conversation": {"id": self.conversation} if self.conversation else None,
            "store": self.keep,
            "parallel_tool_calls": self.body.get("parallel_tool_calls", True),
            "tool_choice": self.body.get("tool_choice", "auto"),
            "tools": self.body.get("tools") or [],
            "temperature": self.body.get("temperature"),
            "top_p": self.body.get("top_p"),
            "max_output_tokens": self.body.get("max_output_tokens"),
            "text": {"format": {"type": "text"}},
            "error": None,
            "incomplete_details": None,
            "usage": {
                "input_tokens": u.prompt_tokens or 0,
                "output_tokens": u.completion_tokens or 0,
                "total_tokens": u.total_tokens or 0,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0},
            },
        }


async def stream_response(
    events: AsyncIterator[Any], shape: Shape, conv: AsyncConversation
) -> Response:
    first = None
    async for event in events:  # a failure before any output is a plain error status
        if type(event) in (TextDelta, Finished):
            first = event
            break
    if first is None:
        raise ApiError(502, "the turn ended without a reply", code="upstream_error")
    return StreamingResponse(
        _events(first, events, shape, conv), media_type="text/event-stream", headers=sse.HEADERS
    )


async def _events(
    first: Any, events: AsyncIterator[Any], shape: Shape, conv: AsyncConversation
) -> AsyncIterator[bytes]:
    seq = 0

    def ev(kind: str, **data: Any) -> bytes:
        nonlocal seq
        seq += 1
        return sse.frame({"type": kind, "sequence_number": seq, **data}, event=kind)

    msg_id = f"msg_{shape.rid}-live"
    text: list[str] = []
    opened = False
    try:
        started = shape.response((), None, "in_progress")
        yield ev("response.created", response=started)
        yield ev("response.in_progress", response=started)
        event = first
        while event is not None:
            if type(event) is TextDelta:
                if not opened:
                    opened = True
                    item = {
                        "type": "message",
                        "id": msg_id,
                        "status": "in_progress",
                        "role": "assistant",
                        "content": [],
                    }
                    yield ev("response.output_item.added", output_index=0, item=item)
                    yield ev(
                        "response.content_part.added",
                        item_id=msg_id,
                        output_index=0,
                        content_index=0,
                        part={"type": "output_text", "text": "", "annotations": []},
                    )
                text.append(event.text)
                yield ev(
                    "response.output_text.delta",
                    item_id=msg_id,
                    output_index=0,
                    content_index=0,
                    delta=event.text,
                    logprobs=[],
                )
            elif type(event) is Finished:
                reply: Reply = event.reply
                final = shape.response(conv.history, reply.turn_usage or reply.usage)
                for index, item in enumerate(final["output"]):
                    if item["type"] == "message" and opened and index == 0:
                        whole = "".join(text)
                        item = {**item, "id": msg_id}
                        final["output"][index] = item
                        yield ev(
                            "response.output_text.done",
                            item_id=msg_id,
                            output_index=0,
                            content_index=0,
                            text=whole,
                            logprobs=[],
                        )
                        yield ev(
                            "response.content_part.done",
                            item_id=msg_id,
                            output_index=0,
                            content_index=0,
                            part=item["content"][0],
                        )
                    else:
                        yield ev("response.output_item.added", output_index=index, item=item)
                        if item["type"] == "function_call":
                            yield ev(
                                "response.function_call_arguments.done",
                                item_id=item["id"],
                                output_index=index,
                                arguments=item["arguments"],
                            )
                    yield ev("response.output_item.done", output_index=index, item=item)
                yield ev("response.completed", response=final)
                break
            event = await anext(events, None)
    except Exception as exc:  # after the first byte, an error is an event of the stream
        body, _, _ = error_body(from_exception(exc))
        yield ev("error", error=body["error"], **body["error"])
    finally:
        await events.aclose()  # type: ignore[attr-defined]


def _shape_of(stored: StoredConversation, rid: str) -> Shape:
    record = stored.header.metadata[RECORD]
    created = stored.header.created_at
    return Shape(
        rid,
        stored.header.model or "",
        record,
        record.get("body") or {},
        True,
        None,
        int(created.timestamp()) if created else None,
    )


@route
async def retrieve(request: Request, service: Service, tenant: str) -> Response:
    rid = request.path_params["id"]
    stored = await _load(service, tenant, rid)
    turns = await service.store.turns(stored_id(tenant, rid))
    usage = turns[-1].usage if turns else None
    return json_response(_shape_of(stored, rid).response(stored.messages, usage))


@route
async def delete(request: Request, service: Service, tenant: str) -> Response:
    rid = request.path_params["id"]
    await _load(service, tenant, rid)
    await service.store.delete(stored_id(tenant, rid))
    return json_response({"id": rid, "object": "response", "deleted": True})


@route
async def input_items(request: Request, service: Service, tenant: str) -> Response:
    rid = request.path_params["id"]
    stored = await _load(service, tenant, rid)
    record = stored.header.metadata[RECORD]
    start = record["input_start"]
    given = stored.messages[start : start + record["input_count"]]
    data = to_items(given, f"in_{rid}")
    if request.query_params.get("order", "desc") == "desc":
        data.reverse()
    return json_response(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": False,
        }
    )
