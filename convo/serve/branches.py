"""Forks and branches over HTTP: convo's own extensions of the Conversations API.

``POST /v1/conversations/{id}/fork`` makes a new conversation that shares the history
before ``at`` with its parent (the store's ``fork``: shared rows, not copies, and
``forked_from`` recorded); editing a message is a fork before it, then a new turn.
``GET /v1/conversations/{id}/branches`` lists where the conversation's history has
siblings (the store's ``branches``), so a client can show "2 of 3" on a message and
switch. Every id is the tenant's public id, and only the tenant's conversations appear.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from convo.serve.app import Service, json_response, read_json, route
from convo.serve.conversations import OWN, conversation_object, load, metadata_of
from convo.serve.errors import ApiError
from convo.serve.history import History
from convo.serve.tenants import new_id, public_id, stored_id

__all__ = ["routes"]


def routes() -> list[Route]:
    return [
        Route("/v1/conversations/{id}/fork", fork, methods=["POST"]),
        Route("/v1/conversations/{id}/branches", branches, methods=["GET"]),
    ]


def _fork_point(at: Any, history: History, count: int) -> int:
    """``at`` as a position: an item id (the fork holds what comes before that item's
    message) or a position from 0 to the history's length; absent, the whole history."""
    if at is None:
        return count
    if isinstance(at, str):
        k = history.position(at)
        if k is None:
            raise ApiError(404, f"at: no item {at!r} in this conversation", param="at")
        return k
    if isinstance(at, int) and not isinstance(at, bool) and 0 <= at <= count:
        return at
    raise ApiError(400, f"at: an item id or a position from 0 to {count}", param="at")


@route
async def fork(request: Request, service: Service, tenant: str) -> Response:
    cid = request.path_params["id"]
    body = await read_json(request, service.config.max_body)
    stored = await load(service, tenant, cid, keys=True)
    at = _fork_point(body.get("at"), History.load(stored), len(stored.messages))
    new = new_id("conv")
    await service.store.fork(stored_id(tenant, cid), at=at, new_id=stored_id(tenant, new))
    forked = await load(service, tenant, new, keys=True)
    if forked.keys != (stored.keys or [])[:at]:
        # The parent changed between reading ``at`` and forking: the fork would not
        # hold what the client named. Undo it rather than answer with another history.
        await service.store.delete(stored_id(tenant, new))
        raise ApiError(
            409,
            "the conversation changed while it was being forked; nothing was kept, "
            "send the request again",
            code="conversation_busy",
        )
    if "metadata" in body:  # else the fork keeps its parent's
        own = {k: v for k, v in forked.header.metadata.items() if k.startswith(OWN)}
        await service.store.update_header(
            stored_id(tenant, new), metadata={**own, **metadata_of(body)}
        )
        forked = await load(service, tenant, new)
    return json_response(conversation_object(new, forked))


@route
async def branches(request: Request, service: Service, tenant: str) -> Response:
    """Each position with sibling messages: the conversations holding each sibling (in
    the order they were written), which one this is, and this one's item there."""
    cid = request.path_params["id"]
    history = History.load(await load(service, tenant, cid, keys=True))
    mine = stored_id(tenant, "")
    data = []
    for branch in await service.store.branches(stored_id(tenant, cid)):
        # Forks are made within a tenant, so a family is too; filtered all the same.
        ids = [c for c in branch.conversations if c.startswith(mine)]
        here = history.ids_between(branch.position, branch.position + 1)
        if len(ids) < 2 or not here:
            continue
        data.append(
            {
                "object": "conversation.branch",
                "position": branch.position,
                "item_id": here[0],
                "conversations": [public_id(c) for c in ids],
                "index": ids.index(stored_id(tenant, cid)),
            }
        )
    return json_response({"object": "list", "data": data})
