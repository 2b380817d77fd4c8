"""Every error convo raises, as one tree.

Catch :class:`ConvoError` to catch them all; catch a branch to act on one kind::

    ConvoError
    ├── InputError                   bad input, found before any I/O
    │   ├── MessageError             .index, .field: which message, which field
    │   ├── ParameterError           .param: a request parameter out of range
    │   ├── UnknownModelError        .model: no known model, plugin or base URL serves it
    │   ├── BudgetError              .over_by: even the pinned messages do not fit
    │   └── ToolDefinitionError      .tool: a tool cannot be defined or registered
    ├── TemplateError                .template, .lineno
    │   ├── TemplateSyntaxError
    │   ├── TemplateSecurityError    the sandbox refused an attribute or call
    │   ├── UndefinedVariableError   .variable
    │   └── TemplateLimitError       render time or output size over the bound
    ├── ToolError                    .tool, .tool_call_id
    │   ├── ToolNotFoundError
    │   ├── ToolArgumentsError       arguments not JSON, not an object, or invalid
    │   ├── ToolExecutionError       the tool raised (the cause is chained)
    │   ├── ToolTimeoutError
    │   ├── ToolRefusedError         the approval hook said no
    │   ├── ToolRoundsExceededError  max_tool_rounds reached
    │   └── PendingToolCallsError    .tool_call_ids: calls still await an answer
    ├── OutputError                  the model's reply cannot be used
    │   ├── ParseError               .raw, .errors: structured output did not validate
    │   ├── RefusalError             .refusal: the model refused
    │   ├── ContentFilterError       finish_reason "content_filter": the reply was stopped
    │   └── TruncatedError           finish_reason "length" where a whole reply is needed
    ├── TransportError               talking to the model failed
    │   ├── APIConnectionError       could not connect, or the connection broke
    │   │   └── APITimeoutError
    │   ├── APIStatusError           .status_code, .message, .type, .code, .request_id,
    │   │   │                        .retry_after (every status, when the server said)
    │   │   ├── BadRequestError (400), AuthenticationError (401),
    │   │   │   PermissionDeniedError (403), NotFoundError (404), ConflictError (409),
    │   │   │   UnprocessableEntityError (422), RateLimitError (429),
    │   │   └── InternalServerError (5xx)
    │   │       └── GatewayError     a 5xx page that is not JSON (also a ProtocolError)
    │   └── ProtocolError            .snippet: the body is not what the API promises
    │       ├── StreamError          the server reported an error mid-stream
    │       └── IncompleteStreamError  the stream ended before the reply did
    ├── EncodingError                a tokenizer's rank file is missing or corrupt
    ├── StoreError                   persistence failed; nothing partial was written
    │   ├── ConversationNotFoundError  .conversation_id
    │   ├── VersionConflictError     another turn committed first (store or memory)
    │   ├── StoreBusyError           the database stayed locked past the bound
    │   └── CorruptRowError          .table, .row_id
    ├── PluginError                  .plugin: a plugin failed to load or register
    ├── McpError                     an MCP server could not be started or reached
    ├── UsageLimitExceeded           .limit, .value, .maximum: a UsageLimits bound
    └── CassetteError                a cassette cannot answer (convo.testing)
        └── CassetteMismatchError    .closest, .diff: no recorded request matches

Every error keeps what a caller needs to act on it, and none ever carries an API key.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetError",
    "CassetteError",
    "CassetteMismatchError",
    "ConflictError",
    "ContentFilterError",
    "ConversationNotFoundError",
    "ConvoError",
    "CorruptRowError",
    "EncodingError",
    "GatewayError",
    "IncompleteStreamError",
    "InputError",
    "InternalServerError",
    "McpError",
    "MessageError",
    "NotFoundError",
    "OutputError",
    "ParameterError",
    "ParseError",
    "PendingToolCallsError",
    "PermissionDeniedError",
    "PluginError",
    "ProtocolError",
    "RateLimitError",
    "RefusalError",
    "StoreBusyError",
    "StoreError",
    "StreamError",
    "TemplateError",
    "TemplateLimitError",
    "TemplateSecurityError",
    "TemplateSyntaxError",
    "ToolArgumentsError",
    "ToolDefinitionError",
    "ToolError",
    "ToolExecutionError",
    "ToolNotFoundError",
    "ToolRefusedError",
    "ToolRoundsExceededError",
    "ToolTimeoutError",
    "TransportError",
    "TruncatedError",
    "UndefinedVariableError",
    "UnknownModelError",
    "UnprocessableEntityError",
    "UsageLimitExceeded",
    "VersionConflictError",
    "status_error",
]


class ConvoError(Exception):
    """The root of every error convo raises."""


# -- input ---------------------------------------------------------------------------


class InputError(ConvoError, ValueError):
    """Input that convo refuses before doing any I/O."""


class MessageError(InputError):
    """A message is invalid; ``index`` and ``field`` say which and where."""

    def __init__(self, message: str, *, index: int | None = None, field: str | None = None):
        where = []
        if index is not None:
            where.append(f"message {index}")
        if field:
            where.append(f"field {field!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
        self.index = index
        self.field = field


class ParameterError(InputError):
    """A request parameter is invalid or out of the range the API documents."""

    def __init__(self, message: str, *, param: str | None = None):
        super().__init__(message)
        self.param = param


class UnknownModelError(InputError):
    """No known model, plugin or base URL serves the model name ``model``.

    Without a base URL it would go to api.openai.com and fail there (or on DNS
    offline), far from the mistyped name; it is refused before any I/O instead.
    """

    def __init__(self, message: str, *, model: str):
        super().__init__(message)
        self.model = model


class BudgetError(InputError):
    """What must be sent does not fit the model's context window."""

    def __init__(self, message: str, *, over_by: int = 0, budget: int = 0):
        super().__init__(message)
        self.over_by = over_by
        self.budget = budget


class ToolDefinitionError(InputError):
    """A function cannot become a tool (bad name, duplicate, unsupported parameter)."""

    def __init__(self, message: str, *, tool: str | None = None):
        super().__init__(f"tool {tool!r}: {message}" if tool else message)
        self.tool = tool


# -- templates -----------------------------------------------------------------------


class TemplateError(ConvoError):
    """A template could not be loaded or rendered."""

    def __init__(self, message: str, *, template: str | None = None, lineno: int | None = None):
        super().__init__(message)
        self.template = template
        self.lineno = lineno


class TemplateSyntaxError(TemplateError):
    """The template text is not valid Jinja."""


class TemplateSecurityError(TemplateError):
    """The sandbox refused an unsafe attribute, method or call."""


class UndefinedVariableError(TemplateError):
    """The template uses a variable that was not given."""

    def __init__(self, message: str, *, variable: str | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.variable = variable


class TemplateLimitError(TemplateError):
    """Rendering went past the bound on time or output size."""


# -- tools ---------------------------------------------------------------------------


class ToolError(ConvoError):
    """A tool call could not be answered."""

    def __init__(self, message: str, *, tool: str | None = None, tool_call_id: str | None = None):
        super().__init__(message)
        self.tool = tool
        self.tool_call_id = tool_call_id


class ToolNotFoundError(ToolError):
    """The model asked for a tool that is not registered."""


class ToolArgumentsError(ToolError):
    """The model's arguments are not JSON, not an object, or fail validation."""


class ToolExecutionError(ToolError):
    """The tool raised; the original exception is the ``__cause__``."""


class ToolTimeoutError(ToolError):
    """The tool ran past its timeout."""


class ToolRefusedError(ToolError):
    """The approval hook refused the call."""


class ToolRoundsExceededError(ToolError):
    """The model kept calling tools past ``max_tool_rounds``."""


class PendingToolCallsError(ToolError):
    """Tool calls of a suspended turn still await an answer (``.tool_call_ids``)."""

    def __init__(self, message: str, *, tool_call_ids: list[str] | None = None):
        super().__init__(message)
        self.tool_call_ids = list(tool_call_ids or ())


# -- output --------------------------------------------------------------------------


class OutputError(ConvoError):
    """The model's reply cannot be used as asked."""


class ParseError(OutputError):
    """The reply did not validate against the requested schema."""

    def __init__(self, message: str, *, raw: str = "", errors: Any = None):
        super().__init__(message)
        self.raw = raw
        self.errors = errors


class ContentFilterError(OutputError):
    """The server's content filter stopped the reply; it is not a valid output."""


class RefusalError(OutputError):
    """The model refused to answer (the API's ``refusal`` field)."""

    def __init__(self, refusal: str):
        super().__init__(f"the model refused: {refusal}")
        self.refusal = refusal


class TruncatedError(OutputError):
    """The reply was cut off (``finish_reason == "length"``) where a whole one was needed."""


# -- transport -----------------------------------------------------------------------


class TransportError(ConvoError):
    """Talking to the model failed."""


class APIConnectionError(TransportError):
    """Could not connect to the server, or the connection broke."""


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class APIStatusError(TransportError):
    """The server answered with an error status.

    ``retry_after`` is the wait in seconds the server asked for (``retry-after-ms`` or
    ``Retry-After``), on every status that sent one, or None.
    """

    status_code: int = 0

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        body: Any = None,
        retry_after: float | None = None,
    ):
        if status_code is not None:
            self.status_code = status_code
        rid = f" (request id {request_id})" if request_id else ""
        super().__init__(f"{self.status_code}: {message}{rid}")
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.request_id = request_id
        self.body = body
        self.retry_after = retry_after


class BadRequestError(APIStatusError):
    status_code = 400


class AuthenticationError(APIStatusError):
    status_code = 401


class PermissionDeniedError(APIStatusError):
    status_code = 403


class NotFoundError(APIStatusError):
    status_code = 404


class ConflictError(APIStatusError):
    status_code = 409


class UnprocessableEntityError(APIStatusError):
    status_code = 422


class RateLimitError(APIStatusError):
    """429; ``retry_after`` holds the seconds the server asked to wait, if it said."""

    status_code = 429


class InternalServerError(APIStatusError):
    status_code = 500


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error(status_code: int, message: str, **kw: Any) -> APIStatusError:
    """The error class for a status, built; the one place statuses map to classes.

    >>> status_error(404, "no such model").__class__.__name__
    'NotFoundError'
    """
    cls = _BY_STATUS.get(status_code)
    if cls is None:
        cls = InternalServerError if status_code >= 500 else APIStatusError
    return cls(message, status_code=status_code, **kw)


class ProtocolError(TransportError):
    """The server's answer is not what the Chat Completions API promises."""

    def __init__(self, message: str, *, snippet: str | None = None):
        super().__init__(f"{message}: {snippet!r}" if snippet else message)
        self.snippet = snippet


class StreamError(ProtocolError):
    """The server sent an error in the middle of a stream."""

    def __init__(self, message: str, *, type: str | None = None, code: str | None = None):
        super().__init__(message)
        self.type = type
        self.code = code


class GatewayError(InternalServerError, ProtocolError):
    """A 5xx whose body is not the API's JSON, such as a proxy's HTML 502 page; see ``.snippet``."""

    def __init__(self, message: str, *, snippet: str | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.snippet = snippet


class IncompleteStreamError(ProtocolError):
    """The stream ended before ``[DONE]`` or a ``finish_reason``."""


# -- tokenizer -----------------------------------------------------------------------


class EncodingError(ConvoError):
    """A tokenizer's rank file is missing, unreadable, or not the published one."""


# -- store ---------------------------------------------------------------------------


class StoreError(ConvoError):
    """Persistence failed; nothing partial was written."""


class ConversationNotFoundError(StoreError, KeyError):
    """No conversation has that id."""

    def __init__(self, conversation_id: str):
        super().__init__(f"no conversation with id {conversation_id!r}")
        self.conversation_id = conversation_id

    def __str__(self) -> str:  # KeyError would quote the message again
        return str(self.args[0])


class VersionConflictError(StoreError):
    """Another turn was committed first (by another writer, or by this conversation while
    the turn ran, with or without a store); nothing of this turn was applied. Reload (or
    look at the history) and retry."""

    def __init__(self, message: str, *, expected: int | None = None, actual: int | None = None):
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class StoreBusyError(StoreError):
    """The database stayed locked past the retry bound."""


class CorruptRowError(StoreError):
    """A stored row cannot be read back; names the table and row."""

    def __init__(self, message: str, *, table: str, row_id: object):
        super().__init__(f"{table} row {row_id!r}: {message}")
        self.table = table
        self.row_id = row_id


# -- plugins -------------------------------------------------------------------------


class PluginError(ConvoError):
    """A plugin failed to load or to register."""

    def __init__(self, message: str, *, plugin: str | None = None):
        super().__init__(f"plugin {plugin!r}: {message}" if plugin else message)
        self.plugin = plugin


# -- MCP -----------------------------------------------------------------------------


class McpError(ConvoError):
    """An MCP server could not be started, did not answer, or lost its session.

    At start it is raised; during a call it becomes the ``tool`` message the model gets.
    """


# -- limits and testing --------------------------------------------------------------


class UsageLimitExceeded(ConvoError):
    """A :class:`convo.UsageLimits` bound was reached; the history is as before the turn.

    ``limit`` names the bound (``"max_requests"``, ``"max_turn_tokens"``,
    ``"max_total_tokens"``, ``"max_cost"``), ``value`` is what the turn would reach and
    ``maximum`` the bound.
    """

    def __init__(self, message: str, *, limit: str, value: float, maximum: float):
        super().__init__(message)
        self.limit = limit
        self.value = value
        self.maximum = maximum


class CassetteError(ConvoError):
    """A cassette cannot answer: a file that is not a cassette, nothing left to replay,
    or (strict mode) recorded interactions that were never played."""


class CassetteMismatchError(CassetteError):
    """No recorded request matches; ``closest`` is the nearest recorded body and
    ``diff`` the difference (a unified diff of the normalized JSON)."""

    def __init__(self, message: str, *, closest: Any = None, diff: str = ""):
        super().__init__(message)
        self.closest = closest
        self.diff = diff
