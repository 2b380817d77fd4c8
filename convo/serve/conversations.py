"""``/v1/conversations``: OpenAI's Conversations API on convo's stored conversations.

A conversation is a stored conversation in the tenant's space: the one a Chat
Completions request names with ``X-Convo-Conversation`` is the same object, by the same
id. Items are the history's messages; an item's id is its position (``item_<n>``), which
never changes because a history only grows. ``POST /v1/responses`` with
``conversation`` appends its turn to the conversation (409 if another request did
first). Deleting a single item is not offered: a stored history is append-only.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from convo.conversation import AsyncConversation
from convo.messages import Message
from convo.serve.app import Service, json_response, read_json, route
from convo.serve.errors import ApiError
from convo.serve.items import to_items, to_messages
from convo.serve.tenants import LISTED, check_id, new_id, public_id, stored_id
from convo.store.base import StoredConversation, TurnMeta

__all__ = ["respond_in_conversation", "routes"]

_OWN = ("convo.", "serve:")
MAX_ITEMS = 20


def routes() -> list[Route]:
    return [
        Route("/v1/conversations", create, methods=["POST"]),
        Route("/v1/conversations", list_conversations, methods=["GET"]),
        Route("/v1/conversations/{id}", retrieve, methods=["GET"]),
        Route("/v1/conversations/{id}", update, methods=["POST"]),
        Route("/v1/conversations/{id}", delete, methods=["DELETE"]),
        Route("/v1/conversations/{id}/items", list_items, methods=["GET"]),
        Route("/v1/conversations/{id}/items", add_items, methods=["POST"]),
        Route("/v1/conversations/{id}/items/{item}", get_item, methods=["GET"]),
    ]


def _user(metadata: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metadata.items() if not k.startswith(_OWN)}


def _metadata(body: dict[str, Any]) -> dict[str, Any]:
    meta = body.get("metadata") or {}
    if (
        not isinstance(meta, dict)
        or len(meta) > 16
        or any(
            not isinstance(k, str) or k.startswith(_OWN) or not isinstance(v, str)
            for k, v in meta.items()
        )
    ):
        raise ApiError(400, "metadata: up to 16 string keys and string values", param="metadata")
    return meta


async def _load(service: Service, tenant: str, cid: str) -> StoredConversation:
    from convo.serve.responses import RECORD

    stored = await service.store.load(stored_id(tenant, check_id(cid, "conversation_id")))
    if RECORD in stored.header.metadata:  # a response's id is not a conversation's
        raise ApiError(404, "no such conversation", code="not_found")
    return stored


def _object(cid: str, stored: StoredConversation) -> dict[str, Any]:
    created = stored.header.created_at
    return {
        "id": cid,
        "object": "conversation",
        "created_at": int(created.timestamp()) if created else 0,
        "metadata": _user(stored.header.metadata),
    }


def _items(messages: list[Message], start: int = 0) -> list[dict[str, Any]]:
    out = []
    for n, m in enumerate(messages, start):
        for item in to_items([m], "x"):
            item["id"] = (
                f"item_{n}" if item["type"] != "function_call" else f"item_{n}_{item['call_id']}"
            )
            out.append(item)
    return out


@route
async def create(request: Request, service: Service, tenant: str) -> Response:
    body = await read_json(request, service.config.max_body)
    raw = body.get("items") or []
    if not isinstance(raw, list) or len(raw) > MAX_ITEMS:
        raise ApiError(400, f"items: a list of at most {MAX_ITEMS}", param="items")
    messages = to_messages(raw) if raw else []
    cid = new_id("conv")
    data = {
        "format": "convo.conversation",
        "format_version": 1,
        "version": 1,
        "turns": [],
        "header": {"id": stored_id(tenant, cid), "metadata": {**_metadata(body), LISTED: tenant}},
        "messages": [m.model_dump(exclude_none=True) for m in messages],
    }
    await service.store.import_(data)
    return json_response(_object(cid, await _load(service, tenant, cid)))


@route
async def list_conversations(request: Request, service: Service, tenant: str) -> Response:
    """The tenant's conversations, last updated first (convo's own; OpenAI has no list).

    ``limit`` 1-100 (default 20), ``search`` finds a substring of any message. Stored
    responses are not conversations and are not listed.
    """
    q = request.query_params
    limit = _limit(q.get("limit", "20"))
    found = await service.store.list(
        limit=limit + 1, text=q.get("search") or None, metadata={LISTED: tenant}
    )
    data = [
        {
            "id": public_id(s.id),
            "object": "conversation",
            "created_at": int(s.created_at.timestamp()),
            "updated_at": int(s.updated_at.timestamp()),
            "title": s.title,
            "preview": s.preview,
            "message_count": s.message_count,
        }
        for s in found[:limit]
    ]
    return json_response({"object": "list", "data": data, "has_more": len(found) > limit})


def _limit(raw: str) -> int:
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        raise ApiError(400, "limit must be 1 to 100", param="limit")
    return limit


@route
async def retrieve(request: Request, service: Service, tenant: str) -> Response:
    cid = request.path_params["id"]
    return json_response(_object(cid, await _load(service, tenant, cid)))


@route
async def update(request: Request, service: Service, tenant: str) -> Response:
    cid = request.path_params["id"]
    body = await read_json(request, service.config.max_body)
    stored = await _load(service, tenant, cid)
    own = {k: v for k, v in stored.header.metadata.items() if k.startswith(_OWN)}
    await service.store.update_header(stored_id(tenant, cid), metadata={**own, **_metadata(body)})
    return json_response(_object(cid, await _load(service, tenant, cid)))


@route
async def delete(request: Request, service: Service, tenant: str) -> Response:
    cid = request.path_params["id"]
    await _load(service, tenant, cid)
    await service.store.delete(stored_id(tenant, cid))
    return json_response({"id": cid, "object": "conversation.deleted", "deleted": True})


@route
async def list_items(request: Request, service: Service, tenant: str) -> Response:
    cid = request.path_params["id"]
    q = request.query_params
    limit = _limit(q.get("limit", "20"))
    order = q.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ApiError(400, "order is asc or desc", param="order")
    items = _items(list((await _load(service, tenant, cid)).messages))
    if order == "desc":
        items.reverse()
    after = q.get("after")
    if after is not None:
        ids = [i["id"] for i in items]
        if after not in ids:
            raise ApiError(400, f"after: no item {after!r}", param="after")
        items = items[ids.index(after) + 1 :]
    page = items[:limit]
    return json_response(
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(items) > limit,
        }
    )


@route
async def add_items(request: Request, service: Service, tenant: str) -> Response:
    cid = request.path_params["id"]
    body = await read_json(request, service.config.max_body)
    raw = body.get("items")
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_ITEMS:
        raise ApiError(400, f"items: a list of 1 to {MAX_ITEMS}", param="items")
    messages = to_messages(raw)
    stored = await _load(service, tenant, cid)
    # One versioned write: a turn committed meanwhile makes this a 409, never a mix.
    await service.store.append_turn(stored_id(tenant, cid), stored.version, messages, TurnMeta())
    page = _items(messages, len(stored.messages))
    return json_response(
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": False,
        }
    )


@route
async def get_item(request: Request, service: Service, tenant: str) -> Response:
    cid, wanted = request.path_params["id"], request.path_params["item"]
    for item in _items(list((await _load(service, tenant, cid)).messages)):
        if item["id"] == wanted:
            return json_response(item)
    raise ApiError(404, "no such item", code="not_found")


async def respond_in_conversation(
    request: Request,
    service: Service,
    tenant: str,
    body: dict[str, Any],
    model: str,
    new: list[Message],
    tools: Any,
    params: dict[str, Any],
    instructions: str | None,
    user_meta: dict[str, Any],
) -> Response:
    """A Responses turn appended to ``body["conversation"]`` (a 409 if another was first)."""
    from convo.serve.responses import Shape, stream_response

    if body.get("previous_response_id") is not None:
        raise ApiError(
            400, "give conversation or previous_response_id, not both", param="previous_response_id"
        )
    ref = body["conversation"]
    cid = ref.get("id") if isinstance(ref, dict) else ref
    cid = check_id(cid, "conversation")
    request.state.conversation = cid
    from convo.serve.responses import RECORD

    overrides: dict[str, Any] = {"model": model, "tools": tools}
    if instructions is not None:
        overrides["system"] = instructions
    conv = await AsyncConversation.load(
        stored_id(tenant, cid), store=service.store, transport=service.transport(model), **overrides
    )
    if RECORD in conv.metadata:
        raise ApiError(404, "no such conversation", code="not_found")
    record = {
        "prev": None,
        "input_start": len(conv.history),
        "input_count": len(new),
        "instructions": instructions,
        "metadata": user_meta,
    }
    shape = Shape(new_id("resp"), model, record, body, True, cid)
    if not body.get("stream"):
        reply = await conv.send(new, **params)
        return json_response(shape.response(conv.history, reply.turn_usage or reply.usage))
    return await stream_response(conv.stream(new, **params).events(), shape, conv)
