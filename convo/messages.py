"""Messages: frozen, validated values in the shape of the Chat Completions API.

A :class:`Message` has no identity: storage gives it one. Because it is frozen, a
message caches what is derived from it (its token count per encoding, its wire
dict) and the cache can never go stale.

>>> m = Message.user("Hello!")
>>> m.role, m.text
('user', 'Hello!')
>>> Message(role="tool", content="42")
Traceback (most recent call last):
...
convo.errors.MessageError: field 'tool_call_id': a tool message needs a tool_call_id
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal, TypeAlias

import pydantic
from pydantic import BaseModel, ConfigDict, Field, model_validator

from convo.errors import MessageError

__all__ = [
    "FEEDBACK_NAME",
    "ROLES",
    "AudioPart",
    "ContentPart",
    "FilePart",
    "FunctionCall",
    "ImagePart",
    "ImageURL",
    "Message",
    "MessageLike",
    "Reasoning",
    "Role",
    "TextPart",
    "ToolCall",
    "to_messages",
]

#: The ``name`` of the user message a structured-output retry sends back: it continues
#: the turn, so it is not a turn boundary (a kept history never starts there).
FEEDBACK_NAME = "convo_feedback"

Role: TypeAlias = Literal["system", "developer", "user", "assistant", "tool"]
ROLES: tuple[str, ...] = ("system", "developer", "user", "assistant", "tool")


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TextPart(_Value):
    """A text part of a multi-part content."""

    type: Literal["text"] = "text"
    text: str


class ImageURL(_Value):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(_Value):
    """An image part, by URL or ``data:`` URI."""

    type: Literal["image_url"] = "image_url"
    image_url: ImageURL


class InputAudio(_Value):
    data: str  # base64
    format: Literal["wav", "mp3"]


class AudioPart(_Value):
    """An audio part: base64 ``data`` and its ``format`` ("wav" or "mp3")."""

    type: Literal["input_audio"] = "input_audio"
    input_audio: InputAudio


class FileData(_Value):
    file_data: str | None = None  # a base64 data: URI
    file_id: str | None = None
    filename: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> FileData:
        if self.file_data is None and self.file_id is None:
            raise ValueError("a file part needs file_data or file_id")
        return self


class FilePart(_Value):
    """A file part (a PDF, say): by ``file_id``, or inline as ``file_data``."""

    type: Literal["file"] = "file"
    file: FileData


ContentPart: TypeAlias = Annotated[
    TextPart | ImagePart | AudioPart | FilePart, Field(discriminator="type")
]
_PART_TYPES = ("text", "image_url", "input_audio", "file")


class FunctionCall(_Value):
    name: str
    arguments: str = ""


class ToolCall(_Value):
    """One call the model asks for; ``function.arguments`` is the raw JSON text."""

    id: str
    type: Literal["function"] = "function"
    function: FunctionCall

    @property
    def name(self) -> str:
        return self.function.name

    @property
    def arguments(self) -> str:
        return self.function.arguments


class Reasoning(_Value):
    """Reasoning a server returned with an assistant message, kept in the history so
    that later requests can send it back.

    OpenAI's Responses API returns it as a ``reasoning`` item: ``id`` is the item's id,
    ``text`` its summary (readable, possibly empty) and ``encrypted`` its
    ``encrypted_content``, the model's state that only the server can read. A stateless
    request (``store: false``) can send back only the encrypted kind. ``format`` names
    the wire format that made it; no other format sends it, and the Chat Completions
    API has no place for it. It counts no tokens in convo's budget: its size is known
    only to the server, whose usage reports it.

    >>> Reasoning(id="rs_1", text="Thinking...", encrypted="gAAA").format
    'responses'
    """

    format: str = "responses"
    id: str | None = None
    text: str = ""
    encrypted: str | None = None


class Message(_Value):
    """One message of a conversation.

    >>> Message.assistant("Hi").model_dump(exclude_none=True)
    {'role': 'assistant', 'content': 'Hi'}
    """

    role: Role
    content: str | tuple[ContentPart, ...] | None = None
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] | None = None
    tool_call_id: str | None = None
    refusal: str | None = None
    #: What the server reasoned before this (assistant) message; see :class:`Reasoning`.
    reasoning_items: tuple[Reasoning, ...] | None = None

    # Derived caches (token counts per encoding, the wire dict) live in pydantic's
    # private-state slot, made on first use: declared private attributes cost ~18 us per
    # message to initialise, ten times the validation itself. Safe because the value is
    # frozen; excluded from equality.
    def _cache(self) -> dict[str, Any]:
        private = self.__pydantic_private__
        if private is None:
            private = {"_tokens": {}, "_wire": None}
            object.__setattr__(self, "__pydantic_private__", private)
        return private

    @property
    def _tokens(self) -> dict[str, int]:
        tokens: dict[str, int] = self._cache()["_tokens"]
        return tokens

    @property
    def _wire(self) -> dict[str, Any] | None:
        wire: dict[str, Any] | None = self._cache()["_wire"]
        return wire

    @model_validator(mode="after")
    def _check_roles(self) -> Message:
        role = self.role
        if role == "tool":
            if not self.tool_call_id:
                raise MessageError("a tool message needs a tool_call_id", field="tool_call_id")
        elif self.tool_call_id is not None:
            raise MessageError(f"a {role} message cannot have a tool_call_id", field="tool_call_id")
        if self.tool_calls is not None and role != "assistant":
            raise MessageError(f"a {role} message cannot have tool_calls", field="tool_calls")
        if self.reasoning_items is not None and role != "assistant":
            raise MessageError(
                f"a {role} message cannot have reasoning_items", field="reasoning_items"
            )
        if self.content is None and role != "assistant":
            raise MessageError(f"a {role} message needs content", field="content")
        if (
            role == "assistant"
            and self.content is None
            and not self.tool_calls
            and not self.refusal
        ):
            raise MessageError(
                "an assistant message needs content, tool_calls or a refusal", field="content"
            )
        for text in self._strings():
            _check_text(text)
        return self

    def __eq__(self, other: object) -> bool:
        # Compare the fields only: the private caches must not make equal values differ.
        if not isinstance(other, Message):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = _Value.__hash__

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Message:
        copy = super().model_copy(update=update, deep=deep)
        if update:  # a changed copy must not inherit the original's derived caches
            object.__setattr__(copy, "__pydantic_private__", None)
        return copy

    def _strings(self) -> Iterable[str]:
        if isinstance(self.content, str):
            yield self.content
        elif self.content:
            for part in self.content:
                if isinstance(part, TextPart):
                    yield part.text
        if self.name:
            yield self.name
        if self.refusal:
            yield self.refusal
        for call in self.tool_calls or ():
            yield call.function.arguments

    @property
    def text(self) -> str:
        """The text of the content: the string, or the text parts joined; ``""`` if none."""
        if isinstance(self.content, str):
            return self.content
        if not self.content:
            return ""
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    # Constructors that read like the roles they build.
    @classmethod
    def system(cls, content: str, *, name: str | None = None) -> Message:
        return cls(role="system", content=content, name=name)

    @classmethod
    def developer(cls, content: str, *, name: str | None = None) -> Message:
        return cls(role="developer", content=content, name=name)

    @classmethod
    def user(cls, content: str | Iterable[Any], *, name: str | None = None) -> Message:
        fields = {"role": "user", "content": content, "name": name}
        try:
            return cls.model_validate(fields)
        except pydantic.ValidationError as exc:  # said in the API's terms, part by part
            raise _from_pydantic(exc, None, fields) from None

    @classmethod
    def assistant(
        cls, content: str | None = None, *, tool_calls: Iterable[ToolCall] | None = None
    ) -> Message:
        calls = tuple(tool_calls) if tool_calls is not None else None
        return cls(role="assistant", content=content, tool_calls=calls or None)

    @classmethod
    def tool(cls, content: str, *, tool_call_id: str, name: str | None = None) -> Message:
        return cls(role="tool", content=content, tool_call_id=tool_call_id, name=name)


def _check_text(text: str) -> None:
    # A lone surrogate cannot be encoded as UTF-8: servers and databases reject it later,
    # far from the cause. Finding it here names the message instead.
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise MessageError(
                f"text holds a lone surrogate at offset {exc.start}; it is not valid Unicode",
                field="content",
            ) from None


MessageLike: TypeAlias = Message | Mapping[str, Any]


def to_messages(items: Iterable[MessageLike], *, start: int = 0) -> list[Message]:
    """Validate dicts in the API's shape (or messages) into messages.

    Errors name the index of the bad message (counting from ``start``) and the field.

    >>> to_messages([{"role": "user", "content": "hi"}])[0].text
    'hi'
    >>> to_messages([{"role": "bot", "content": "hi"}])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convo.errors.MessageError: message 0, field 'role': 'bot' is not a role (system, ...)
    """
    out: list[Message] = []
    for i, item in enumerate(items, start):
        if isinstance(item, Message):
            out.append(item)
            continue
        if not isinstance(item, Mapping):
            raise MessageError(f"expected a Message or a dict, got {type(item).__name__}", index=i)
        try:
            out.append(Message.model_validate(item))
        except MessageError as exc:
            raise MessageError(_bare(exc), index=i, field=exc.field) from None
        except pydantic.ValidationError as exc:
            raise _from_pydantic(exc, i, item) from None
    return out


def _bare(exc: MessageError) -> str:
    text = str(exc)
    return text.split(": ", 1)[1] if exc.field and ": " in text else text


def _from_pydantic(
    exc: pydantic.ValidationError, index: int | None, item: Mapping[str, Any]
) -> MessageError:
    err = exc.errors(include_url=False)[0]
    loc = [str(p) for p in err["loc"]]
    # The content union reports each branch; name the field once.
    field = loc[0] if loc else None
    if field == "role":
        return MessageError(
            f"{item.get('role')!r} is not a role ({', '.join(ROLES)})", index=index, field="role"
        )
    content = item.get("content")
    if field == "content" and isinstance(content, list | tuple):
        problem = _part_problem(content)
        if problem is not None:
            return MessageError(problem, index=index, field="content")
    ctx = err.get("ctx") or {}
    if isinstance(ctx.get("error"), MessageError):
        inner: MessageError = ctx["error"]
        return MessageError(_bare(inner), index=index, field=inner.field)
    path = ".".join(
        p for p in loc if not p.startswith(("str", "tuple", "function-", "text", "image"))
    )
    return MessageError(err["msg"], index=index, field=path or field)


def _part_problem(parts: Iterable[Any]) -> str | None:
    """What is wrong with the first invalid content part, said in the API's terms
    (pydantic's own message would be about the other branch: "a valid string")."""
    for i, part in enumerate(parts):
        if isinstance(part, BaseModel):
            continue
        if not isinstance(part, Mapping):
            return f"content part {i} must be an object, got {type(part).__name__}"
        kind = part.get("type")
        if kind not in _PART_TYPES:
            return f"content part {i} has type {kind!r}; a part is one of {', '.join(_PART_TYPES)}"
        try:
            _PART.validate_python(part)
        except pydantic.ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in err["loc"][1:]) or kind
            return f"content part {i} ({kind}): {where}: {err['msg']}"
    return None


_PART: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ContentPart)
