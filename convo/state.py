"""What a conversation holds, and the pure work on it that both drivers share.

:class:`BaseConversation` keeps the system prompt (text or template, rendered once per
variables), the history (a :class:`~convo.budget.History`), default parameters, tools
and settings; it builds the :class:`~convo.turn.TurnContext` for a turn, the exact
request (:meth:`~BaseConversation.prepare`), and what a store records. It does no I/O:
``Conversation`` and ``AsyncConversation`` in :mod:`convo.conversation` do.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import (
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from typing import Any, Literal

from convo.budget import History, Strategy, budget_for, context_window
from convo.errors import InputError, ParameterError
from convo.messages import Message, MessageLike, to_messages
from convo.params import check_params
from convo.request import Request
from convo.store.base import ConversationHeader, TurnMeta
from convo.structured import OutputSpec, output_spec
from convo.templates import Template
from convo.tokens import counter_for
from convo.tools import ToolRegistry, as_registry
from convo.transports.base import Transport
from convo.turn import Summary, TurnContext, TurnResult, build_request
from convo.wire import message_to_wire

__all__ = [
    "BaseConversation",
    "Content",
    "load_kwargs",
    "summary_from",
    "summary_metadata",
]

Content = str | Message | Sequence[MessageLike] | None
_OWN = frozenset({"response_format", "choose", "tools"})


class BaseConversation:
    """State and pure request building, shared by the sync and async drivers."""

    def __init__(
        self,
        system: str | Template | None = None,
        *,
        model: str | None = None,
        messages: Iterable[MessageLike] | None = None,
        transport: Transport | None = None,
        store: Any = None,
        tools: Any = None,
        variables: Mapping[str, Any] | None = None,
        context_window: int | None = None,
        reserve_tokens: int | None = None,
        strategy: Strategy | None = None,
        max_tool_rounds: int = 10,
        on_max_tool_rounds: Literal["raise", "answer"] = "raise",
        tool_errors: Literal["return", "raise"] = "return",
        tool_timeout: float | None = None,
        approve: Callable[..., Any] | None = None,
        on_tool_result: Callable[..., Any] | None = None,
        output_retries: int = 2,
        output_mode: Literal["json_schema", "json_object", "tools"] | None = None,
        encoding: str | None = None,
        id: str | None = None,
        title: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        **params: Any,
    ) -> None:
        history = to_messages(messages or ())
        if system is None and history and history[0].role in ("system", "developer"):
            system = history[0].text
            history = history[1:]
        self.model: str = model or _default_model()
        self.params: dict[str, Any] = check_params(params)
        self._transport = transport
        self.store = store
        self.tools: ToolRegistry = as_registry(tools)
        self._variables: dict[str, Any] = dict(variables or {})
        self._system = system
        self._pinned = self._render_system()
        self._history = History(history)
        self._unsaved: list[Message] = list(history)  # the initial history, saved with turn 1
        self.context_window = context_window
        self.reserve_tokens = reserve_tokens
        self.strategy = strategy
        if max_tool_rounds < 1:
            raise ParameterError("max_tool_rounds must be >= 1", param="max_tool_rounds")
        self.max_tool_rounds = max_tool_rounds
        self.on_max_tool_rounds = on_max_tool_rounds
        self.tool_errors = tool_errors
        self.tool_timeout = tool_timeout
        self.approve = approve
        self.on_tool_result = on_tool_result
        self.output_retries = output_retries
        self.output_mode = output_mode
        self.encoding = encoding
        self.id: str = id or uuid.uuid4().hex
        self.title = title
        self.metadata: dict[str, Any] = dict(metadata or {})
        self._version = 0
        self._summary: Summary | None = None

    # -- what the model sees ---------------------------------------------------------

    @property
    def messages(self) -> list[Message]:
        """The full history, system prompt first."""
        return [*self._pinned, *self._history]

    @property
    def history(self) -> Sequence[Message]:
        """The turns, without the system prompt (read-only view)."""
        return tuple(self._history)

    @property
    def system(self) -> str | Template | None:
        return self._system

    @property
    def variables(self) -> Mapping[str, Any]:
        return dict(self._variables)

    @variables.setter
    def variables(self, values: Mapping[str, Any]) -> None:
        previous = self._variables
        self._variables = dict(values)
        try:
            self._pinned = self._render_system()
        except Exception:
            self._variables = previous
            raise

    def _render_system(self) -> tuple[Message, ...]:
        # Rendered once per variables and kept: building a request never renders.
        system = self._system
        if system is None:
            return ()
        if isinstance(system, Template):
            return tuple(system.render_messages(**self._variables))
        return (Message.system(system),)

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            # Resolving a model loads the plugins (entry points): paid only when needed.
            from convo.models import get_transport

            self._transport = get_transport(self.model)
        return self._transport

    def _context(self, params: Mapping[str, Any], *, stream: bool) -> TurnContext:
        own = {k: params[k] for k in _OWN.intersection(params)}
        merged = check_params({**self.params, **{k: v for k, v in params.items() if k not in own}})
        spec: OutputSpec | None = output_spec(own.get("response_format"))
        mode: Literal["json_schema", "json_object", "tools"] = (
            self.output_mode
            if self.output_mode is not None
            else getattr(self.transport, "structured_output", "json_schema")
        )
        tools = self.tools if "tools" not in own else as_registry(own["tools"])
        window = self.context_window or context_window(self.model)
        return TurnContext(
            model=self.model,
            params=merged,
            pinned=self._pinned,
            history=self._history,
            counter=counter_for(self.model, self.encoding),
            budget=budget_for(
                self.model, merged, context_window=window, reserve_tokens=self.reserve_tokens
            ),
            stream=stream,
            tools=tools or None,
            max_tool_rounds=self.max_tool_rounds,
            on_max_tool_rounds=self.on_max_tool_rounds,
            tool_errors=self.tool_errors,
            output=spec,
            output_mode=mode,
            output_retries=self.output_retries,
            strategy=self.strategy,
            summary=self._summary,
            choose=own.get("choose"),
        )

    def _new_messages(self, content: Content) -> list[Message]:
        start = len(self._pinned) + len(self._history)
        if content is None:
            return []
        if isinstance(content, str):
            return [Message.user(content)]
        if isinstance(content, Message):
            return [content]
        if isinstance(content, Mapping):
            return to_messages([content], start=start)
        return to_messages(content, start=start)

    def prepare(self, content: Content = None, **params: Any) -> Request:
        """The exact request :meth:`send` would make now, without sending it.

        >>> from convo import Conversation
        >>> req = Conversation("Be brief.", model="gpt-4o").prepare("Hi", temperature=0)
        >>> req.body["temperature"], [m["role"] for m in req.body["messages"]]
        (0, ['system', 'user'])
        """
        ctx = self._context(params, stream=bool(params.pop("stream", False)))
        return build_request(ctx, self._new_messages(content))

    # -- committing ------------------------------------------------------------------

    def _header(self) -> ConversationHeader:
        system = self._system
        template = system if isinstance(system, Template) else None
        return ConversationHeader(
            id=self.id,
            model=self.model,
            system=None if template else (system if isinstance(system, str) else None),
            template_name=template.name if template else None,
            template_hash=template.hash if template else None,
            template_source=template.source if template else None,
            variables=self._variables,
            params=self.params,
            title=self.title,
            metadata=self.metadata,
        )

    def _meta(self, result: TurnResult, ctx: TurnContext, started: float) -> TurnMeta:
        template = self._system if isinstance(self._system, Template) else None
        return TurnMeta(
            usage=result.reply.usage,
            model=result.reply.model or self.model,
            params=ctx.params,
            finish_reason=result.reply.finish_reason,
            latency_ms=(time.perf_counter() - started) * 1000,
            template_name=template.name if template else None,
            template_hash=template.hash if template else None,
        )

    def _apply(self, result: TurnResult, version: int) -> None:
        self._history.extend(result.messages)
        self._unsaved.clear()
        self._version = version
        if result.summary is not None:
            self._summary = result.summary

    def _fork_local(self, at: int | None) -> dict[str, Any]:
        cut = len(self._history) if at is None else at
        if not 0 <= cut <= len(self._history):
            raise InputError(f"fork point {at} is outside the history (0..{len(self._history)})")
        return dict(
            system=self._system,
            model=self.model,
            messages=self._history[:cut],
            transport=self._transport,
            tools=self.tools,
            variables=self._variables,
            context_window=self.context_window,
            reserve_tokens=self.reserve_tokens,
            strategy=self.strategy,
            max_tool_rounds=self.max_tool_rounds,
            on_max_tool_rounds=self.on_max_tool_rounds,
            tool_errors=self.tool_errors,
            tool_timeout=self.tool_timeout,
            approve=self.approve,
            on_tool_result=self.on_tool_result,
            output_retries=self.output_retries,
            output_mode=self.output_mode,
            encoding=self.encoding,
            title=self.title,
            metadata=self.metadata,
            **self.params,
        )

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(id={self.id!r}, model={self.model!r}, messages={len(self._history)})"


def _default_model() -> str:
    from convo.models import default_model

    return default_model()


# The Summarize strategy's summary is derived data, kept in the header's metadata under
# this key so that a reloaded conversation does not pay for it again. It is written
# after the turn's own transaction: lost to a crash, it is only made again.
_SUMMARY_KEY = "convo.summary"


def summary_metadata(metadata: Mapping[str, Any], summary: Summary) -> dict[str, Any]:
    saved = {"message": message_to_wire(summary.message), "covers": summary.covers}
    return {**metadata, _SUMMARY_KEY: saved}


def summary_from(metadata: Mapping[str, Any]) -> Summary | None:
    saved = metadata.get(_SUMMARY_KEY)
    if not isinstance(saved, Mapping):
        return None
    try:
        return Summary(to_messages([saved["message"]])[0], int(saved["covers"]))
    except (KeyError, TypeError, ValueError):
        return None  # a damaged cache: the summary is simply made again


def load_kwargs(stored: Any, overrides: dict[str, Any]) -> dict[str, Any]:
    header = stored.header
    system: str | Template | None = header.system
    if header.template_source is not None:
        system = Template(header.template_source, name=header.template_name)
    kwargs: dict[str, Any] = dict(
        system=system,
        model=header.model,
        messages=stored.messages,
        variables=header.variables,
        id=header.id,
        title=header.title,
        metadata={k: v for k, v in header.metadata.items() if k != _SUMMARY_KEY},
        **header.params,
    )
    kwargs.update(overrides)
    return kwargs
