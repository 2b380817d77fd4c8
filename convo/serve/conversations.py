"""``/v1/conversations``: OpenAI's Conversations API on convo's stored conversations.

A conversation is a stored conversation in the tenant's space: the one a Chat
Completions request names with ``X-Convo-Conversation`` is the same object, by the same
id. Items are the history's messages, with ids that stay theirs when other items are
deleted (``convo/serve/history.py``). ``POST /v1/responses`` with ``conversation``
appends its turn to the conversation (409 if another request did first). Deleting an
item is one versioned cut of the history: a change committed since the item was found
makes it a 409, and an item of a tool round goes only with its whole round. Forks and
branches (convo's own) are in ``convo/serve/branches.py``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from convo.conversation import AsyncConversation
from convo.errors import VersionConflictError
from convo.messages import Message
from convo.serve.app import Service, json_response, read_json, route
from convo.serve.errors import ApiError
from convo.serve.history import History, new_keys, tool_round
from convo.serve.items import to_messages
from convo.serve.tenants import LISTED, check_id, new_id, public_id, stored_id
from convo.store.base import StoredConversation, TurnMeta

__all__ = [
    "OWN",
    "conversation_object",
    "load",
    "metadata_of",
    "respond_in_conversation",
    "routes",
    "user_metadata",
]

OWN = ("convo.", "serve:")
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
        Route("/v1/conversations/{id}/items/{item}", delete_item, methods=["DELETE"]),
    ]


def user_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metadata.items() if not k.startswith(OWN)}


def metadata_of(body: dict[str, Any]) -> dict[str, Any]:
    meta = body.get("metadata") or {}
    if (
        not isinstance(meta, dict)
        or len(meta) > 16
        or any(
            not isinstance(k, str) or k.startswith(OWN) or not isinstance(v, str)
            for k, v in meta.items()
        )
    ):
        raise ApiError(400, "metadata: up to 16 string keys and string values", param="metadata")
    return meta


async def load(
    service: Service, tenant: str, cid: str, *, keys: bool = False
) -> StoredConversation:
    """The tenant's conversation ``cid`` (a 404 for anything else)."""
    from convo.serve.responses import RECORD

    sid = stored_id(tenant, check_id(cid, "conversation_id"))
    stored = await service.store.load(sid, keys=keys)
    if RECORD in stored.header.metadata:  # a response's id is not a conversation's
        raise ApiError(404, "no such conversation", code="not_found")
    return stored


def conversation_object(cid: str, stored: StoredConversation) -> dict[str, Any]:
    created = stored.header.created_at
    out: dict[str, Any] = {
        "id": cid,
        "object": "conversation",
        "created_at": int(created.timestamp()) if created else 0,
        "metadata": user_metadata(stored.header.metadata),
    }
    if stored.header.forked_from is not None:  # convo's own link, set by a fork
        out["forked_from"] = public_id(stored.header.forked_from)
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
        "header": {"id": stored_id(tenant, cid), "metadata": {**metadata_of(body), LISTED: tenant}},
        "messages": [m.model_dump(exclude_none=True) for m in messages],
    }
    await service.store.import_(data)
    return json_response(conversation_object(cid, await load(service, tenant, cid)))


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
    return json_response(conversation_object(cid, await load(service, tenant, cid)))


@route
async def update(request: Request, service: Service, tenant: str) -> Response:
    cid = request.path_params["id"]
    body = await read_json(request, service.config.max_body)
    stored = await load(service, tenant, cid)
    own = {k: v for k, v in stored.header.metadata.items() if k.startswith(OWN)}
    await service.store.update_header(stored_id(tenant, cid), metadata={**own, **metadata_of(body)})
    return json_response(conversation_object(cid, await load(service, tenant, cid)))


@route
async def delete(request: Request, service: Service, tenant: str) -> Response:
    cid = request.path_params["id"]
    await load(service, tenant, cid)
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
    items = History.load(await load(service, tenant, cid, keys=True)).items
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
    stored = await load(service, tenant, cid)
    keys = new_keys(len(messages))  # named before the write, so the answer can name them
    # One versioned write: a turn committed meanwhile makes this a 409, never a mix.
    await service.store.append_turn(
        stored_id(tenant, cid), stored.version, messages, TurnMeta(), keys=keys
    )
    page = History.of(messages, keys, len(stored.messages)).items
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
    for item in History.load(await load(service, tenant, cid, keys=True)).items:
        if item["id"] == wanted:
            return json_response(item)
    raise ApiError(404, "no such item", code="not_found")


@route
async def delete_item(request: Request, service: Service, tenant: str) -> Response:
    """Delete one item; the answer is the conversation, as OpenAI's.

    An item of a tool round (see :func:`~convo.serve.history.tool_round`) is refused
    with a 400 unless ``?whole_round=true`` (convo's own) asks to delete the round.
    """
    cid, wanted = request.path_params["id"], request.path_params["item"]
    stored = await load(service, tenant, cid, keys=True)
    history = History.load(stored)
    k = history.position(wanted)
    if k is None:
        raise ApiError(404, f"no item {wanted!r} in this conversation", code="not_found")
    start, stop = tool_round(stored.messages, k)
    together = history.ids_between(start, stop)
    if len(together) > 1 and request.query_params.get("whole_round") != "true":
        raise ApiError(
            400,
            f"item {wanted!r} is part of a tool round ({', '.join(together)}): deleting it "
            "alone would leave a tool call without its answer or an answer without its "
            "call; nothing was deleted. Add ?whole_round=true to delete the whole round",
            param="item_id",
            code="tool_round",
        )
    try:
        await service.store.delete_messages(stored_id(tenant, cid), stored.version, start, stop)
    except VersionConflictError:
        raise ApiError(
            409,
            "the conversation changed while the item was being deleted; nothing was "
            "deleted, send the request again",
            code="conversation_busy",
        ) from None
    return json_response(conversation_object(cid, await load(service, tenant, cid)))


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
