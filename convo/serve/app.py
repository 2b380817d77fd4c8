"""The ASGI application: one :class:`Service` per worker process, the routes, the access log.

Starlette on uvicorn: a small, well-kept ASGI toolkit whose streaming responses notice
a client that hangs up (the turn is then cancelled before it commits), with no
framework-level validation layer to fight for OpenAI's error shapes.

Nothing a request needs lives only in a worker's memory: conversations and responses
are in the store, so any worker (any process, on one PostgreSQL) serves any request.
A worker keeps only its store engine and one upstream transport (connection pool) per
model.

>>> import os, tempfile
>>> from convo.serve import ServeConfig, create_app
>>> app = create_app(ServeConfig(db=f"sqlite:///{tempfile.mkdtemp()}/doc.db"))
>>> sorted({r.path for r in app.routes})[:3]
['/health', '/playground', '/v1/chat/completions']
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from convo import models
from convo.serve.errors import ApiError, error_body, from_exception
from convo.serve.tenants import Tenants
from convo.store import AsyncSQLStore
from convo.transports.base import Transport

__all__ = ["MAX_BODY", "ServeConfig", "Service", "create_app", "json_response", "route"]

MAX_BODY = 4 * 1024 * 1024
log = logging.getLogger("convo.serve.access")


@dataclass(frozen=True)
class ServeConfig:
    """What a worker is configured with (the command line builds it).

    ``transport_for`` maps a resolved model name to a transport (default: convo's
    models and plugins); it is called once per model per worker.
    """

    db: str | None = None
    keys: Sequence[str] = ()
    model: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    max_body: int = MAX_BODY
    transport_for: Callable[[str], Transport] | None = None

    def __repr__(self) -> str:
        return f"ServeConfig(db={'set' if self.db else None}, keys={len(self.keys)})"


class Service:
    """A worker's shared pieces: the store, the tenants, one transport per model."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.store = AsyncSQLStore(config.db)
        self.tenants = Tenants(config.keys)
        self._transports: dict[str, Transport] = {}
        self._lock = threading.Lock()

    def model(self, name: object) -> str:
        """The resolved model name for a request's ``model`` (400 if missing)."""
        if name is None and self.config.model:
            name = self.config.model
        if not isinstance(name, str) or not name:
            raise ApiError(400, "model is required", param="model", code="missing_model")
        return models.resolve(self.config.aliases.get(name, name))

    def transport(self, model: str) -> Transport:
        with self._lock:
            found = self._transports.get(model)
            if found is None:
                make = self.config.transport_for or models.get_transport
                found = self._transports[model] = make(model)
            return found

    async def close(self) -> None:
        for transport in self._transports.values():
            await transport.aclose()
        await self.store.close()


Handler = Callable[[Request, Service, str], Awaitable[Response]]


def route(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate, call ``handler(request, service, tenant)``, turn failures into errors."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        service: Service = request.app.state.service
        try:
            tenant = service.tenants.tenant(request.headers.get("authorization"))
            if tenant is None:
                raise ApiError(
                    401,
                    "a valid API key is required (Authorization: Bearer ...)",
                    code="invalid_api_key",
                )
            request.scope.setdefault("state", {})["tenant"] = tenant
            return await handler(request, service, tenant)
        except Exception as exc:
            return error_response(from_exception(exc))

    return endpoint


def error_response(err: ApiError) -> Response:
    body, status, headers = error_body(err)
    return json_response(body, status, headers)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    """The request's JSON object: 413 over ``limit`` bytes, 400 if not a JSON object."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise ApiError(413, f"the request body is over {limit} bytes", code="body_too_large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the request body is over {limit} bytes", code="body_too_large")
        chunks.append(chunk)
    try:
        data = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        raise ApiError(400, "the request body is not valid JSON", code="invalid_json") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object", code="invalid_json")
    return data


class AccessLog:
    """One line per request: method, path, status, latency, tenant, conversation id.

    Never a header value, a key or message content: only what the routes put in the
    request's scope state.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            state = scope.get("state") or {}
            log.info(
                "%s %s %s %.1fms tenant=%s conversation=%s",
                scope["method"],
                scope["path"],
                status or 500,
                (time.perf_counter() - started) * 1000,
                state.get("tenant", "-"),
                state.get("conversation", "-"),
            )


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def create_app(config: ServeConfig | None = None) -> Starlette:
    """The application for one worker."""
    from convo.playground import create_app as playground
    from convo.serve import branches, chat, conversations, responses

    service = Service(config or ServeConfig())
    routes = [
        Route("/health", health, methods=["GET"]),
        *chat.routes(),
        *responses.routes(),
        *conversations.routes(),
        *branches.routes(),
        # The page at /playground/ targets this server's /v1 by default, same origin.
        Mount("/playground", app=playground()),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await service.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.service = service
    app.add_middleware(AccessLog)
    return app
