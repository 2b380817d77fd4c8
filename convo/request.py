"""The request a conversation sends: a value that says exactly what the model will see.

``Conversation.prepare()`` returns one without sending it; transports receive one.
:class:`RequestOptions` are how it is sent (timeout, extra headers and query, retries),
never part of the body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from convo.messages import Message

__all__ = ["Request", "RequestOptions"]


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """Per-request transport options, as openai-python takes them; None means the
    transport's own setting. They travel beside the body, never in it.

    >>> RequestOptions(timeout=5.0, extra_headers={"X-Trace": "1"}).max_retries is None
    True
    """

    timeout: Any = None  # seconds, or an httpx2.Timeout
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    extra_query: Mapping[str, Any] = field(default_factory=dict)
    max_retries: int | None = None

    def __repr__(self) -> str:
        # Header values may be credentials (a per-call Authorization): names only.
        return (
            f"RequestOptions(timeout={self.timeout!r}, "
            f"extra_headers={sorted(self.extra_headers)!r}, "
            f"extra_query={sorted(self.extra_query)!r}, max_retries={self.max_retries!r})"
        )


NO_OPTIONS = RequestOptions()


class Request:
    """What is sent, and how it was fitted into the model's window.

    ``body`` is the JSON payload, as a dict of its own (editing it changes nothing
    else); ``messages`` the messages in it, system first; ``dropped`` the history
    messages left out to fit ``budget``; ``prompt_tokens`` convo's count of the prompt
    (tool schemas included); ``options`` how to send it (see :class:`RequestOptions`).
    A request is a value: its attributes cannot be set, and :meth:`replace` makes a
    changed copy.

    >>> req = Request("m", (Message.user("hi"),), {"model": "m", "messages": []})
    >>> req.replace(model="n").model, req.model
    ('n', 'm')
    """

    __slots__ = (
        "_body",
        "_view",
        "budget",
        "dropped",
        "messages",
        "model",
        "options",
        "prompt_tokens",
        "stream",
        "tools",
    )
    model: str
    messages: tuple[Message, ...]
    stream: bool
    tools: tuple[dict[str, Any], ...]
    prompt_tokens: int | None
    budget: int | None
    dropped: Sequence[Message]
    options: RequestOptions
    _body: dict[str, Any] | None
    _view: Mapping[str, Any]

    def __init__(
        self,
        model: str,
        messages: tuple[Message, ...],
        body: dict[str, Any],
        stream: bool = False,
        tools: tuple[dict[str, Any], ...] = (),
        prompt_tokens: int | None = None,
        budget: int | None = None,
        dropped: Sequence[Message] = (),
        options: RequestOptions = NO_OPTIONS,
    ) -> None:
        _fill(self, model, messages, stream, tools, prompt_tokens, budget, dropped, options)
        _set_body(self, body)  # the caller's dict: theirs to share
        _set_view(self, body)

    @classmethod
    def shared(
        cls,
        body: Mapping[str, Any],
        *,
        model: str,
        messages: tuple[Message, ...],
        stream: bool = False,
        tools: tuple[dict[str, Any], ...] = (),
        prompt_tokens: int | None = None,
        budget: int | None = None,
        dropped: Sequence[Message] = (),
        options: RequestOptions = NO_OPTIONS,
    ) -> Request:
        """A request over a body whose inner dicts are shared (a conversation's cached
        wire dicts): :attr:`body` is then copied on first access, and :attr:`payload`
        reads the shared dicts without copying them.

        Copying every message of a long history for each request cost more than the
        rest of a turn together (the copies also fed the garbage collector), while most
        transports only encode the body: so the copy is made only for whoever asks for
        a dict they may edit.

        >>> wire = {"role": "user", "content": "hi"}
        >>> req = Request.shared({"model": "m", "messages": [wire]}, model="m", messages=())
        >>> req.body["messages"][0]["content"] = "changed"
        >>> wire["content"], req.payload["messages"][0]["content"]
        ('hi', 'changed')
        """
        request = object.__new__(cls)
        _fill(request, model, messages, stream, tools, prompt_tokens, budget, dropped, options)
        _set_body(request, None)
        _set_view(request, body)
        return request

    @property
    def body(self) -> dict[str, Any]:
        """The JSON payload, a dict of this request's own: edit it to change what this
        request sends, and nothing else."""
        body = self._body
        if body is None:
            from convo.wire import fresh_body  # the wire module builds bodies

            # Not locked: a request is edited by the one thread that sends it.
            body = fresh_body(self._view)
            _set_body(self, body)
            _set_view(self, body)
        return body

    @property
    def payload(self) -> Mapping[str, Any]:
        """The body to read or encode, never to edit: :attr:`body` once it has been
        asked for (with any edits), else the shared view it would copy."""
        return self._view

    @property
    def params(self) -> dict[str, Any]:
        """The body without ``model`` and ``messages``."""
        return {k: v for k, v in self._view.items() if k not in ("model", "messages")}

    def replace(self, **changes: Any) -> Request:
        """A copy with ``changes`` applied; an unchanged body stays shared, not copied.

        >>> req = Request("m", (), {"model": "m", "messages": []}, stream=True)
        >>> req.replace(stream=False).stream
        False
        """
        fields = {name: getattr(self, name) for name in _FIELDS}
        unknown = set(changes) - set(_FIELDS) - {"body"}
        if unknown:
            raise TypeError(f"Request.replace() got unknown fields: {sorted(unknown)}")
        if "body" in changes:
            fields.update(changes)
            return Request(**fields)
        fields.update(changes)
        if self._body is None:
            return Request.shared(self._view, **fields)
        return Request(body=self._body, **fields)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Request is immutable: use request.replace({name}=...)")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Request is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Request):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in _FIELDS) and (
            self._view == other._view
        )

    __hash__ = None  # type: ignore[assignment]  # the body is a dict

    def __repr__(self) -> str:
        shown = [f"model={self.model!r}", f"messages={self.messages!r}"]
        shown.append(f"body={dict(self._view)!r}")
        shown += [f"{n}={getattr(self, n)!r}" for n in _FIELDS[2:] if n != "dropped"]
        return f"Request({', '.join(shown)})"


_FIELDS = (
    "model",
    "messages",
    "stream",
    "tools",
    "prompt_tokens",
    "budget",
    "dropped",
    "options",
)

# Fields are set through their slots' own setters: ``__setattr__`` refuses every
# change, and ``object.__setattr__`` per field made a shared request cost 28,000
# instructions to build, against 12,000 this way (callgrind).
_SLOTS: dict[str, Any] = dict(vars(Request))
_set_body = _SLOTS["_body"].__set__
_set_view = _SLOTS["_view"].__set__
_SETTERS = tuple(_SLOTS[name].__set__ for name in _FIELDS)


def _fill(
    request: Request,
    model: str,
    messages: tuple[Message, ...],
    stream: bool,
    tools: tuple[dict[str, Any], ...],
    prompt_tokens: int | None,
    budget: int | None,
    dropped: Sequence[Message],
    options: RequestOptions,
) -> None:
    # Unrolled: a loop over the setters cost a third more.
    s_model, s_messages, s_stream, s_tools, s_prompt, s_budget, s_dropped, s_options = _SETTERS
    s_model(request, model)
    s_messages(request, messages)
    s_stream(request, stream)
    s_tools(request, tools)
    s_prompt(request, prompt_tokens)
    s_budget(request, budget)
    s_dropped(request, dropped)
    s_options(request, options)
