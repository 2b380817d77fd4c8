"""What a conversation holds, and the pure work on it that both drivers share.

:class:`BaseConversation` keeps the system prompt (text, a message, or a template,
rendered once per variables), the history (a :class:`~convo.budget.History`), the
version it is at, default parameters, tools and settings. It builds the snapshot a turn
runs on (:meth:`~BaseConversation._context`), the exact request
(:meth:`~BaseConversation.prepare`), what a store write takes, forks and restores. It
decides, and it does no I/O: ``Conversation`` and ``AsyncConversation`` in
:mod:`convo.conversation` only carry out the effects of the turn.
"""

from __future__ import annotations

import inspect
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, Self

from convo.budget import History, budget_for, check_sequence, context_window
from convo.effects import CommitPlan
from convo.errors import InputError, MessageError, ParameterError, VersionConflictError
from convo.limits import UsageLimits
from convo.messages import Message, MessageLike, to_messages
from convo.params import Split, check_params, split_params
from convo.pending import Awaiting, ToolResult
from convo.request import Request
from convo.saved import (
    awaiting_from,
    check_user_metadata,
    header_metadata,
    split,
    summary_from,
    system_from,
)
from convo.store.base import ConversationHeader, StoredConversation
from convo.structured import OutputSpec, output_spec
from convo.summary import Strategy, Summary, check_strategy
from convo.templates import Template
from convo.tokens import TokenCounter, counter_for
from convo.tools import ToolRegistry
from convo.transports.base import Transport
from convo.turn import ToolTokens, TurnContext, build_request

__all__ = ["BaseConversation", "Content", "StoreCall"]

Content = str | Message | ToolResult | Sequence[MessageLike | ToolResult] | None
#: A store method and its arguments: what a driver calls (blocking, or awaited).
StoreCall = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]
# convo's own options a conversation keeps as defaults for every turn.
_DEFAULT_OWN = ("response_format", "choose")


class BaseConversation:
    """State and pure decisions, shared by the sync and async drivers."""

    _async_driver = False  # AsyncConversation: a sync store is run in worker threads

    def __init__(
        self,
        system: str | Message | Template | None = None,
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
        limits: UsageLimits | None = None,
        **params: Any,
    ) -> None:
        history = to_messages(messages or ())
        skipped = 0
        if system is None and history and history[0].role in ("system", "developer"):
            first = history.pop(0)
            plain = first.role == "system" and first.name is None
            system = first.text if plain and isinstance(first.content, str) else first
            skipped = 1
        check_sequence(history, start=skipped)
        self.model: str = model or _default_model()
        split = split_params(params)
        for key in split.own:
            if key not in _DEFAULT_OWN:
                raise ParameterError(
                    f"{key!r} is given per call, not to the constructor", param=key
                )
        #: API parameters sent with every request (a call's own override them).
        self.params: dict[str, Any] = check_params(split.api)
        self._own: dict[str, Any] = split.own  # response_format / choose defaults
        self._options = split.options
        self._extra_body = split.extra_body
        self._transport = transport
        self._owns_transport = False  # a transport given to us is the caller's to close
        self.store = store
        self._store_async = _store_flavour(store, self._async_driver)
        self.tools, self.external_tools = _split_tools(tools)
        self._variables: dict[str, Any] = dict(variables or {})
        self._system = system
        self._pinned = self._render_system()
        self._history = History(history)
        self._unsaved: list[Message] = list(history)  # the initial history, saved with turn 1
        self.context_window = context_window
        self.reserve_tokens = reserve_tokens
        self.strategy = check_strategy(strategy)
        if isinstance(max_tool_rounds, bool) or not isinstance(max_tool_rounds, int):
            raise ParameterError("max_tool_rounds must be an integer", param="max_tool_rounds")
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
        self.metadata: dict[str, Any] = check_user_metadata(metadata or {})
        self._version = 0
        self._summary: Summary | None = None
        self._awaiting: Awaiting | None = None
        self._lock = threading.Lock()  # a commit's check-and-apply, against other threads
        self._tool_tokens = ToolTokens()
        self._offset = 0  # where the history in memory begins (a tail loaded from a store)
        if limits is not None and not isinstance(limits, UsageLimits):
            raise ParameterError("limits must be a convo.UsageLimits", param="limits")
        self.limits = limits
        # What the committed turns used (tokens, USD of the priced ones), for the limits.
        self._spent: tuple[int, float] = (0, 0.0)

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
    def version(self) -> int:
        """How many turns have been committed (the store's version, for a stored one)."""
        return self._version

    @property
    def pending_tool_calls(self) -> tuple[Any, ...]:
        """The tool calls a suspended turn awaits (results or approvals), in call order."""
        return self._awaiting.calls if self._awaiting is not None else ()

    @property
    def system(self) -> str | Message | Template | None:
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
        if isinstance(system, Message):
            return (system,)
        return (Message.system(system),)

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            # Resolving a model loads the plugins (entry points): paid only when needed.
            from convo.models import get_transport

            self._transport = get_transport(self.model)
            # A transport shared by every conversation of an endpoint is the process's.
            self._owns_transport = not self._transport.shared
        return self._transport

    # -- a turn's snapshot ------------------------------------------------------------

    def _split(self, params: Mapping[str, Any]) -> tuple[Split, dict[str, Any], dict[str, Any]]:
        """A call's keywords by namespace, over the conversation's defaults: the split,
        convo's own options, and the checked API parameters (before any I/O)."""
        split = split_params(params, base=self._options)
        own = {**self._own, **split.own} if self._own else split.own
        merged = check_params({**self.params, **split.api})
        return split, own, merged

    def _context(self, params: Mapping[str, Any], *, stream: bool) -> TurnContext:
        split, own, merged = self._split(params)
        # A per-call model is honoured whole: the counter, the window, the budget and
        # the request all follow it (the transport stays the conversation's).
        model = split.model or self.model
        spec: OutputSpec | None = output_spec(own.get("response_format"))
        transport = self.transport
        mode: Literal["json_schema", "json_object", "tools"] = (
            self.output_mode
            if self.output_mode is not None
            else getattr(transport, "structured_output", "json_schema")
        )
        tools, external = self.tools, self.external_tools
        if "tools" in own:
            tools, external = _split_tools(own["tools"])
        window = self.context_window or _transport_window(transport, model)
        window = window or context_window(model)
        template = self._system if isinstance(self._system, Template) else None
        extra_body = split.extra_body
        if self._extra_body:
            extra_body = {**self._extra_body, **extra_body}
        return TurnContext(
            model=model,
            params=merged,
            options=split.options,
            extra_body=extra_body,
            stream_usage=bool(getattr(transport, "stream_usage", True)),
            pinned=self._pinned,
            history=self._history.view(),
            counter=_counter(transport, model, self.encoding),
            budget=budget_for(
                model,
                merged,
                context_window=window,
                reserve_tokens=self.reserve_tokens,
            ),
            window=window,
            version=self._version,
            stream=stream,
            tools=tools or None,
            external=external,
            max_tool_rounds=self.max_tool_rounds,
            on_max_tool_rounds=self.on_max_tool_rounds,
            tool_errors=self.tool_errors,
            tool_timeout=self.tool_timeout,
            approve=self.approve,
            on_tool_result=self.on_tool_result,
            output=spec,
            output_mode=mode,
            output_retries=self.output_retries,
            strategy=self.strategy,
            summary=self._summary,
            choose=own.get("choose"),
            awaiting=self._awaiting,
            cancel_pending=bool(own.get("cancel_pending", False)),
            unsaved=tuple(self._unsaved),
            create=self._header() if self._version == 0 and self.store is not None else None,
            # The header's metadata is only ever written to a store: without one, a
            # turn has nothing to merge it into.
            metadata=self._base_metadata() if self.store is not None else {},
            template=(template.name, template.hash) if template else (None, None),
            started=time.perf_counter(),
            tool_tokens=self._tool_tokens,
            offset=self._offset,
            limits=self.limits,
            spent=self._spent,
        )

    def _new_messages(self, content: Content) -> list[Message]:
        start = len(self._pinned) + len(self._history)
        if content is None:
            return []
        if isinstance(content, str):
            return [Message.user(content)]
        if isinstance(content, Message):
            return [content]
        if isinstance(content, ToolResult):
            return [content.message()]
        if isinstance(content, Mapping):
            return to_messages([content], start=start)
        items = [c.message() if isinstance(c, ToolResult) else c for c in content]
        return to_messages(items, start=start)

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

    def _system_message(self) -> Message | None:
        # A leading message that a plain system string cannot hold keeps its own record.
        return self._system if isinstance(self._system, Message) else None

    def _base_metadata(self) -> dict[str, Any]:
        return header_metadata(self.metadata, None, None, self._system_message())

    def _header(self) -> ConversationHeader:
        system = self._system
        template = system if isinstance(system, Template) else None
        return ConversationHeader(
            id=self.id,
            model=self.model,
            system=system.text
            if isinstance(system, Message)
            else (system if isinstance(system, str) else None),
            template_name=template.name if template else None,
            template_hash=template.hash if template else None,
            template_source=template.source if template else None,
            variables=self._variables,
            params=self.params,
            title=self.title,
            metadata=header_metadata(
                self.metadata, self._summary, self._awaiting, self._system_message(), self._offset
            ),
        )

    def _check_base(self, plan: CommitPlan) -> None:
        """A turn built on another version than the current one is a conflict."""
        if plan.base_version != self._version or plan.base_length != len(self._history):
            raise VersionConflictError(
                f"conversation {self.id!r} changed while this turn ran (it began at version "
                f"{plan.base_version} with {plan.base_length} messages, the conversation is "
                f"now at version {self._version} with {len(self._history)}); nothing of "
                "this turn was applied",
                expected=plan.base_version,
                actual=self._version,
            )

    def _store_call(self, plan: CommitPlan) -> StoreCall:
        """The one store write that commits ``plan``."""
        store = self.store
        if not plan.store_messages:  # a suspended turn got some of its answers
            return store.update_header, (self.id,), {"metadata": plan.metadata}
        kwargs: dict[str, Any] = {"create": plan.create}
        if plan.metadata is not None:
            kwargs["metadata"] = plan.metadata
        args = (self.id, plan.base_version, list(plan.store_messages), plan.meta)
        return store.append_turn, args, kwargs

    def _apply(self, plan: CommitPlan, written: Any) -> int:
        """Apply a committed plan to memory (right after the store's write, if any)."""
        version = written if isinstance(written, int) and plan.store_messages else None
        if version is None:
            version = plan.base_version + (1 if plan.messages else 0)
        with self._lock:
            self._check_base(plan)
            self._history.extend(plan.messages)
            if plan.store_messages:
                self._unsaved.clear()
            self._version = version
            if plan.summary is not None:
                self._summary = plan.summary
            self._awaiting = plan.awaiting
            usage, spent = plan.turn["usage"], plan.turn["cost"]
            tokens, cost = self._spent
            self._spent = (tokens + (usage.total_tokens if usage else 0), cost + (spent or 0.0))
        return version

    def _set_spent(self, totals: Any) -> None:
        """What the stored turns used, for the per-conversation limits."""
        self._spent = (int(totals.total_tokens), float(getattr(totals, "cost", None) or 0.0))

    def _commit_local(self, plan: CommitPlan) -> int:
        """Commit without a store: check and apply as one step (under the lock)."""
        return self._apply(plan, None)

    # -- forks and restores ------------------------------------------------------------

    def _settings(self) -> dict[str, Any]:
        """Every setting a fork keeps (the constructor's arguments, but the history)."""
        return dict(
            system=self._system,
            model=self.model,
            transport=self._transport,
            store=self.store,
            tools=[self.tools, *self.external_tools],
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
            limits=self.limits,
            metadata=self.metadata,
            **self._own,
            **_option_kwargs(self._options),
            **({"extra_body": self._extra_body} if self._extra_body else {}),
            **self.params,
        )

    def _fork_point(self, at: int | None) -> int:
        n = len(self._history)
        cut = n if at is None else at
        if isinstance(cut, bool) or not isinstance(cut, int) or not 0 <= cut <= n:
            raise InputError(f"fork point {at!r} is outside the history (0..{n})")
        if cut < n and self._history[cut].role == "tool":
            raise MessageError(
                f"fork point {cut} is inside a tool round: message {cut} answers a tool call "
                "of an earlier message; fork before that assistant message or after its "
                "last answer",
                index=cut,
            )
        return cut

    def _forked(self, cut: int, new_id: str | None) -> Self:
        """The fork at ``cut``, in memory; ``new_id`` when the store made it (version 1)."""
        child = type(self)(**self._settings(), id=new_id)
        child._adopt(self._history[:cut], self._awaiting if cut == len(self._history) else None)
        child._offset = self._offset if new_id is not None else 0
        if self._summary is not None and self._summary.fits(child._history):
            child._summary = self._summary
        if new_id is not None:
            child._version = 1
            child._unsaved.clear()
        return child

    def _fork_header_fix(self, child: BaseConversation) -> StoreCall | None:
        """The store's fork copied the parent's header: correct convo's own state in it
        if the fork does not share it (a summary or pending calls it does not have)."""
        if child._summary is self._summary and child._awaiting is self._awaiting:
            return None
        metadata = header_metadata(
            child.metadata, child._summary, child._awaiting, child._system_message(), child._offset
        )
        return self.store.update_header, (child.id,), {"metadata": metadata}

    def _adopt(self, messages: Sequence[Message], awaiting: Awaiting | None) -> None:
        check_sequence(messages, open_end=awaiting is not None)
        self._history = History(messages)
        self._unsaved = list(messages)
        self._awaiting = awaiting

    @classmethod
    def _restored(cls, stored: StoredConversation, overrides: dict[str, Any]) -> Self:
        header = stored.header
        user, own = split(header.metadata)
        system: str | Message | Template | None = system_from(own) or header.system
        if header.template_source is not None:
            system = Template(header.template_source, name=header.template_name)
        kwargs: dict[str, Any] = dict(
            system=system,
            model=header.model,
            variables=header.variables,
            id=header.id,
            title=header.title,
            metadata=user,
            **header.params,
        )
        kwargs.update(overrides)
        conv = cls(**kwargs)
        history = History(stored.messages)
        offset = stored.offset
        conv._history = history
        conv._unsaved = []
        conv._version = stored.version
        conv._offset = offset
        conv._summary = summary_from(own, history, offset)
        conv._awaiting = awaiting_from(own, history, offset)
        return conv

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(id={self.id!r}, model={self.model!r}, messages={len(self._history)})"


def _option_kwargs(options: Any) -> dict[str, Any]:
    """The constructor keywords that give back ``options`` (for a fork)."""
    out: dict[str, Any] = {}
    if options.timeout is not None:
        out["timeout"] = options.timeout
    if options.max_retries is not None:
        out["max_retries"] = options.max_retries
    if options.extra_headers:
        out["extra_headers"] = dict(options.extra_headers)
    if options.extra_query:
        out["extra_query"] = dict(options.extra_query)
    return out


def _default_model() -> str:
    from convo.models import default_model

    return default_model()


def _transport_window(transport: Transport, model: str) -> int | None:
    declared = getattr(transport, "context_window", None)
    if callable(declared):
        window = declared(model)
        return window if isinstance(window, int) and window > 0 else None
    return None


def _counter(transport: Transport, model: str, encoding: str | None) -> TokenCounter:
    # A transport that knows its model's tokenizer counts with it (exact, and no tiktoken
    # encoding is built for a model that never uses one); an encoding asked for wins.
    offered = getattr(transport, "token_counter", None)
    if encoding is None and callable(offered):
        counter = offered(model)
        if isinstance(counter, TokenCounter):
            return counter
    return counter_for(model, encoding)


def _split_tools(tools: Any) -> tuple[ToolRegistry, tuple[dict[str, Any], ...]]:
    """Python tools in a registry; raw OpenAI function definitions apart (external)."""
    from convo.tools import as_registry

    if isinstance(tools, Mapping):
        tools = [tools]
    if not isinstance(tools, list | tuple):
        return as_registry(tools), ()
    external = tuple(_external(t) for t in tools if isinstance(t, Mapping))
    return as_registry([t for t in tools if not isinstance(t, Mapping)]), external


def _external(definition: Mapping[str, Any]) -> dict[str, Any]:
    function = definition.get("function")
    if (
        definition.get("type") != "function"
        or not isinstance(function, Mapping)
        or not isinstance(function.get("name"), str)
        or not function["name"]
    ):
        raise ParameterError(
            "a tool given as a dict must be an OpenAI function tool: "
            '{"type": "function", "function": {"name": ..., "parameters": {...}}}',
            param="tools",
        )
    return {"type": "function", "function": dict(function)}


def _store_flavour(store: Any, async_driver: bool) -> bool:
    """Whether ``store`` is async; decided once, here (decorated methods included)."""
    if store is None:
        return False
    append = getattr(store, "append_turn", None)
    if not callable(append):
        raise ParameterError(
            f"store must be a convo store (with append_turn), got {type(store).__name__}",
            param="store",
        )
    is_async = inspect.iscoroutinefunction(inspect.unwrap(append))
    if is_async and not async_driver:
        raise ParameterError(
            f"{type(store).__name__} is an async store: use it with AsyncConversation, "
            "or give Conversation a sync store such as SQLStore",
            param="store",
        )
    return is_async
