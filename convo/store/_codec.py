"""Values to column values and back: messages, headers and turn metadata.

Rows are read back strictly: JSON that does not parse or a role that does not exist
raises :class:`~convo.errors.CorruptRowError` naming the table and row, never a skip.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from json.scanner import make_scanner
from typing import Any, NamedTuple

import pydantic

from convo.errors import CorruptRowError, InputError, MessageError
from convo.messages import ROLES, Message
from convo.reply import Usage
from convo.store.base import ConversationHeader, TurnMeta

__all__ = [
    "check_no_nul",
    "dumps",
    "header_from_row",
    "loads",
    "message_from_row",
    "message_to_columns",
    "messages_from_rows",
    "scrub",
    "turn_from_row",
    "utc",
]

# Parameters are stored per turn and per conversation; credentials must never be.
_SECRET = re.compile(r"(api[_-]?key|secret|password|authorization|headers|^auth$|credential)", re.I)


# json.dumps with any non-default option builds a new encoder per call (~1 us); a turn
# encodes a few values per message, so the encoder is built once.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def dumps(value: Any) -> str:
    """JSON text that keeps every character as is (no ``\\u`` escapes) and sorts no keys."""
    return _encode(value)


def canonical(value: Any) -> str:
    """JSON with sorted keys, so that equal values give equal text (metadata filters)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def loads(text: str | None, table: str, row_id: object, column: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CorruptRowError(
            f"column {column} is not JSON ({exc})", table=table, row_id=row_id
        ) from None


def scrub(params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters without anything that looks like a credential.

    >>> scrub({"temperature": 0.2, "api_key": "sk-x", "extra_headers": {"A": "b"}})
    {'temperature': 0.2}
    """
    return {k: v for k, v in params.items() if not _SECRET.search(str(k))}


def utc(value: datetime) -> datetime:
    """Timestamps are stored as naive UTC (MariaDB and SQLite have no zone); read as aware."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _message_strings(m: Message) -> Iterable[tuple[str, str]]:
    if isinstance(m.content, str):
        yield "content", m.content
    elif m.content:
        for part in m.content:
            yield "content", getattr(part, "text", "")
    for field in ("name", "refusal", "tool_call_id"):
        value = getattr(m, field)
        if value:
            yield field, value
    for call in m.tool_calls or ():
        yield "tool_calls", call.id + call.function.name + call.function.arguments


def check_no_nul(messages: Iterable[Message], header: ConversationHeader | None) -> None:
    """PostgreSQL text cannot hold U+0000: refuse it before anything is written."""
    for i, m in enumerate(messages):
        for field, text in _message_strings(m):
            if "\x00" in text:
                raise MessageError(
                    "holds a NUL character (U+0000), which PostgreSQL cannot store",
                    index=i,
                    field=field,
                )
    if header is not None:
        for field in ("id", "model", "system", "template_source", "title", "template_name"):
            value = getattr(header, field)
            if isinstance(value, str) and "\x00" in value:
                raise InputError(f"header field {field!r} holds a NUL character (U+0000)")


def message_to_columns(m: Message) -> dict[str, Any]:
    """The message's columns; ``text`` holds the searchable text, ``parts`` a part list."""
    parts = None
    if isinstance(m.content, tuple):
        parts = dumps([p.model_dump(exclude_none=True) for p in m.content])
        text: str | None = m.text
    else:
        text = m.content
    calls = None
    if m.tool_calls is not None:
        calls = dumps([c.model_dump() for c in m.tool_calls])
    reasoning = None
    if m.reasoning_items is not None:
        reasoning = dumps([r.model_dump() for r in m.reasoning_items])
    return {
        "role": m.role,
        "text": text,
        "parts": parts,
        "name": m.name,
        "tool_calls": calls,
        "tool_call_id": m.tool_call_id,
        "refusal": m.refusal,
        "reasoning": reasoning,
        "tokens": dumps(m._tokens) if m._tokens else None,
    }


MESSAGES = "convo_messages"

# Reading a row the store wrote skips pydantic: the row was a validated Message when it
# was written, so a whole load would spend most of its time re-proving that (~2.7 us a
# message against ~1 us to build it). What can go wrong in the database is still checked:
# the role, the JSON columns, and the role rules a row could break (a tool message needs
# a call id, content is absent only for an assistant). Rows with tool calls or content
# parts take the full validation, which also builds their nested values.
_new = object.__new__
_set = object.__setattr__
# json.loads goes through two wrappers and a whitespace regex per call; the C scanner
# alone decodes a token-count object in a third of the time. Strictness is kept by
# checking that it consumed the whole text.
_scan = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # typeshed: any context


def _tokens(text: str, row_id: object) -> dict[str, Any]:
    try:
        value, end = _scan(text, 0)
    except (StopIteration, ValueError):
        value, end = None, -1
    if end != len(text):
        value = loads(text, MESSAGES, row_id, "tokens")  # raises, naming the error
    if not isinstance(value, dict):
        raise CorruptRowError("column tokens is not an object", table=MESSAGES, row_id=row_id)
    for n in value.values():
        if type(n) is not int or n < 0:
            raise CorruptRowError(
                "column tokens holds a count that is not a non-negative integer",
                table=MESSAGES,
                row_id=row_id,
            )
    return value


def messages_from_rows(rows: Iterable[Sequence[Any]]) -> list[Message]:
    """Messages from rows of (id, role, text, parts, name, tool_calls, tool_call_id,
    refusal, tokens, reasoning), in that order.
    """
    out: list[Message] = []
    append = out.append
    for row in rows:
        row_id, role, text, parts, name, calls, call_id, refusal, tokens, reasoning = row
        if (
            parts is not None
            or calls is not None
            or reasoning is not None
            or role not in _PLAIN
            or (text is None and role != "assistant")
            or not (call_id if role == "tool" else call_id is None)
            or (text is None and (role != "assistant" or not refusal))
        ):
            append(message_from_row(_Row(*row)))
            continue
        message = _new(Message)
        _set(
            message,
            "__dict__",
            {
                "role": role,
                "content": text,
                "name": name,
                "tool_calls": None,
                "tool_call_id": call_id,
                "refusal": refusal,
                "reasoning_items": None,
            },
        )
        # The fields validation would have marked as set: the row's non-NULL columns.
        fields = {"role", "content"} if text is not None else {"role"}
        if name is not None:
            fields.add("name")
        if call_id is not None:
            fields.add("tool_call_id")
        if refusal is not None:
            fields.add("refusal")
        _set(message, "__pydantic_fields_set__", fields)
        _set(message, "__pydantic_extra__", None)
        _set(
            message,
            "__pydantic_private__",
            {"_tokens": {} if tokens is None else _tokens(tokens, row_id), "_wire": None},
        )
        append(message)
    return out


_PLAIN = frozenset(ROLES)


class _Row(NamedTuple):
    id: Any
    role: Any
    text: Any
    parts: Any
    name: Any
    tool_calls: Any
    tool_call_id: Any
    refusal: Any
    tokens: Any
    reasoning: Any


def message_from_row(row: Any) -> Message:
    """A message from a row with the columns of :func:`message_to_columns` and ``id``,
    fully validated.
    """
    if row.role not in ROLES:
        raise CorruptRowError(f"unknown role {row.role!r}", table=MESSAGES, row_id=row.id)
    data: dict[str, Any] = {"role": row.role}
    if row.parts is not None:
        data["content"] = loads(row.parts, MESSAGES, row.id, "parts")
    elif row.text is not None:
        data["content"] = row.text
    for field in ("name", "tool_call_id", "refusal"):
        value = getattr(row, field)
        if value is not None:
            data[field] = value
    if row.tool_calls is not None:
        data["tool_calls"] = loads(row.tool_calls, MESSAGES, row.id, "tool_calls")
    if row.reasoning is not None:
        data["reasoning_items"] = loads(row.reasoning, MESSAGES, row.id, "reasoning")
    try:
        message = Message.model_validate(data)
    except (pydantic.ValidationError, MessageError) as exc:
        raise CorruptRowError(
            f"not a valid message ({exc})", table=MESSAGES, row_id=row.id
        ) from None
    if row.tokens is not None:
        message._tokens.update(_tokens(row.tokens, row.id))
    return message


CONVERSATIONS = "convo_conversations"


def _object(text: str, row_id: object, column: str) -> dict[str, Any]:
    value = loads(text, CONVERSATIONS, row_id, column)
    if not isinstance(value, dict):
        raise CorruptRowError(
            f"column {column} is not an object", table=CONVERSATIONS, row_id=row_id
        )
    return value


def header_from_row(row: Any) -> ConversationHeader:
    return ConversationHeader(
        id=row.id,
        model=row.model,
        system=row.system,
        template_name=row.template_name,
        template_hash=row.template_hash,
        template_source=row.template_source,
        variables=_object(row.variables, row.id, "variables"),
        params=_object(row.params, row.id, "params"),
        title=row.title,
        metadata=_object(row.metadata_json, row.id, "metadata_json"),
        forked_from=row.forked_from,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
    )


TURNS = "convo_turns"


def turn_columns(meta: TurnMeta) -> dict[str, Any]:
    usage = meta.usage
    return {
        "usage": dumps(usage.model_dump()) if usage is not None else None,
        "prompt_tokens": usage.prompt_tokens if usage else 0,
        "completion_tokens": usage.completion_tokens if usage else 0,
        "total_tokens": usage.total_tokens if usage else 0,
        "model": meta.model,
        "params": dumps(scrub(meta.params)),
        "finish_reason": meta.finish_reason,
        "latency_ms": meta.latency_ms,
        "cost": meta.cost,
        "template_name": meta.template_name,
        "template_hash": meta.template_hash,
    }


def turn_from_row(row: Any) -> TurnMeta:
    raw = loads(row.usage, TURNS, row.id, "usage")
    params = loads(row.params, TURNS, row.id, "params")
    try:
        usage = Usage.model_validate(raw) if raw is not None else None
        return TurnMeta(
            usage=usage,
            model=row.model,
            params=params,
            finish_reason=row.finish_reason,
            latency_ms=row.latency_ms,
            cost=row.cost,
            template_name=row.template_name,
            template_hash=row.template_hash,
            created_at=utc(row.created_at),
        )
    except pydantic.ValidationError as exc:
        raise CorruptRowError(f"not a valid turn ({exc})", table=TURNS, row_id=row.id) from None
