"""Every failure as OpenAI's error JSON, with the status the SDK turns into its own type.

``{"error": {"message", "type", "param", "code"}}``; the one place where a convo error
becomes a status. An upstream failure is the upstream's fault, not the client's: a 5xx or
a broken connection is a 502 (503 while the upstream is unreachable), a 429 stays a 429
with its ``Retry-After``, and an upstream 401/403 is a 502 whose message says only that
the server's own upstream credentials were refused (never the key).

>>> body, status, headers = error_body(ApiError(404, "no such conversation", code="not_found"))
>>> status, body["error"]["type"], body["error"]["code"]
(404, 'not_found_error', 'not_found')
"""

from __future__ import annotations

import logging
from typing import Any

from convo import errors as e

__all__ = ["ApiError", "error_body", "from_exception"]

log = logging.getLogger("convo.serve")

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    502: "upstream_error",
    503: "service_unavailable",
}


class ApiError(Exception):
    """An HTTP error the server answers with; raised anywhere in a route."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type or _TYPES.get(status, "server_error")
        self.headers = headers or {}


def error_body(err: ApiError) -> tuple[dict[str, Any], int, dict[str, str]]:
    """The JSON body, status and headers of ``err``."""
    body = {
        "error": {"message": err.message, "type": err.type, "param": err.param, "code": err.code}
    }
    return body, err.status, err.headers


def from_exception(exc: BaseException) -> ApiError:
    """The API error for anything a route raised (an unknown one is a logged 500)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, e.ConversationNotFoundError):
        return ApiError(404, "no such conversation", code="not_found")
    if isinstance(exc, e.VersionConflictError):
        return ApiError(
            409,
            "another request continued this conversation first; nothing of this request "
            "was stored, send it again on the current state",
            code="conversation_busy",
        )
    if isinstance(exc, e.PendingToolCallsError):
        return ApiError(
            400,
            "the conversation waits for the results of tool calls "
            f"{', '.join(exc.tool_call_ids)}; send them as tool messages first",
            code="pending_tool_calls",
        )
    if isinstance(exc, e.BudgetError):
        return ApiError(400, str(exc), code="context_length_exceeded")
    if isinstance(exc, e.ParameterError):
        return ApiError(400, str(exc), param=exc.param, code="invalid_parameter")
    if isinstance(exc, e.MessageError):
        return ApiError(400, str(exc), param="messages", code="invalid_message")
    if isinstance(exc, e.ToolError):
        return ApiError(400, str(exc), param="tools", code="invalid_tool")
    if isinstance(exc, e.InputError | e.TemplateError):
        return ApiError(400, str(exc), code="invalid_request")
    if isinstance(exc, e.StoreBusyError):
        return ApiError(503, "the store is busy; try again", code="store_busy")
    if isinstance(exc, e.APIStatusError):
        return _upstream_status(exc)
    if isinstance(exc, e.APIConnectionError | e.ProtocolError):
        return ApiError(502, f"the upstream model failed: {exc}", code="upstream_error")
    if isinstance(exc, e.OutputError):
        return ApiError(502, f"the model's reply cannot be used: {exc}", code="bad_output")
    if isinstance(exc, e.PluginError):
        return ApiError(404, str(exc), param="model", code="model_not_found")
    # The type and where, never the message: it may hold anything (a key, a prompt).
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb else "?"
    log.error("internal error: %s at %s", type(exc).__name__, where)
    return ApiError(500, "internal server error", code="internal_error")


def _upstream_status(exc: e.APIStatusError) -> ApiError:
    status = exc.status_code
    if isinstance(exc, e.RateLimitError):
        headers = {}
        if exc.retry_after is not None:
            headers["Retry-After"] = str(max(0, round(exc.retry_after)))
        return ApiError(
            429, f"upstream rate limit: {exc.message}", code="rate_limited", headers=headers
        )
    if status in (401, 403):
        return ApiError(502, "the upstream refused this server's credentials", code="upstream_auth")
    if status in (400, 404, 422):
        code = None if exc.code is None else str(exc.code)
        return ApiError(status, f"upstream: {exc.message}", param=exc.param, code=code)
    if status == 503:
        return ApiError(503, "the upstream model is unavailable", code="upstream_unavailable")
    return ApiError(502, f"the upstream model failed ({status})", code="upstream_error")
