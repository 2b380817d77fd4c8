"""The export format of one conversation, and the strict reading of it for import.

::

    {"format": "convo.conversation", "format_version": 1,
     "header": {...}, "version": 3,
     "messages": [{"role": "user", "content": "Hi"}, ...],   # the API's shape
     "token_counts": [{"o200k_base": 2}, ...],                # one per message
     "turns": [{"version": 1, "first_seq": 0, "n_messages": 2, "usage": {...}, ...}]}

Export, import, export again gives equal data. Nothing secret is in it: parameters that
look like credentials are never stored in the first place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pydantic

from convo.errors import InputError
from convo.messages import Message, to_messages
from convo.store.base import ConversationHeader, TurnMeta

__all__ = ["FORMAT", "FORMAT_VERSION", "Plan", "export_data", "parse"]

FORMAT = "convo.conversation"
FORMAT_VERSION = 1

Turn = tuple[int, int, int, TurnMeta]  # version, first_seq, n_messages, meta


@dataclass(frozen=True)
class Plan:
    """A validated import: what to write."""

    header: ConversationHeader
    version: int
    messages: list[Message]
    turns: list[Turn]


def export_data(
    header: ConversationHeader, version: int, messages: list[Message], turns: list[Turn]
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "header": header.model_dump(mode="json"),
        "version": version,
        "messages": [m.model_dump(mode="json", exclude_none=True) for m in messages],
        "token_counts": [dict(m._tokens) for m in messages],
        "turns": [
            {"version": v, "first_seq": first, "n_messages": n, **meta.model_dump(mode="json")}
            for v, first, n, meta in turns
        ],
    }


def _int(value: Any, what: str, low: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise InputError(f"import: {what} must be an integer >= {low}, got {value!r}")
    return value


def parse(data: Mapping[str, Any], *, keep_token_counts: bool = False) -> Plan:
    """Validate exported data; every error says which part is wrong. Token counts are
    validated always and kept only with ``keep_token_counts`` (a file is not trusted to
    count as this release does).
    """
    if not isinstance(data, Mapping):
        raise InputError(f"import: expected an object, got {type(data).__name__}")
    if data.get("format") != FORMAT or data.get("format_version") != FORMAT_VERSION:
        raise InputError(
            f"import: not a {FORMAT} version {FORMAT_VERSION} export "
            f"(format={data.get('format')!r}, format_version={data.get('format_version')!r})"
        )
    try:
        header = ConversationHeader.model_validate(data.get("header"))
    except pydantic.ValidationError as exc:
        raise InputError(f"import: invalid header: {exc}") from None
    version = _int(data.get("version"), "version", 1)
    raw = data.get("messages")
    if not isinstance(raw, list):
        raise InputError("import: messages must be a list")
    messages = to_messages(raw)
    counts = data.get("token_counts", [{} for _ in messages])
    if not isinstance(counts, list) or len(counts) != len(messages):
        raise InputError("import: token_counts must be a list with one entry per message")
    for i, (message, tokens) in enumerate(zip(messages, counts, strict=True)):
        if not isinstance(tokens, dict) or not all(
            isinstance(k, str) and type(v) is int and v >= 0 for k, v in tokens.items()
        ):
            raise InputError(
                f"import: token_counts[{i}] must map encodings to non-negative integers"
            )
        if keep_token_counts:
            message._tokens.update(tokens)
    return Plan(header, version, messages, _turns(data.get("turns", []), version, len(messages)))


def _turns(raw: Any, version: int, n_messages: int) -> list[Turn]:
    if not isinstance(raw, list):
        raise InputError("import: turns must be a list")
    turns: list[Turn] = []
    seen: set[int] = set()
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InputError(f"import: turns[{i}] must be an object")
        fields = dict(item)
        v = _int(fields.pop("version", None), f"turns[{i}].version", 1)
        first = _int(fields.pop("first_seq", None), f"turns[{i}].first_seq", 0)
        n = _int(fields.pop("n_messages", None), f"turns[{i}].n_messages", 1)
        if v > version or v in seen:
            raise InputError(f"import: turns[{i}].version {v} is repeated or above {version}")
        if first + n > n_messages:
            raise InputError(f"import: turns[{i}] covers messages past the last one")
        seen.add(v)
        try:
            turns.append((v, first, n, TurnMeta.model_validate(fields)))
        except pydantic.ValidationError as exc:
            raise InputError(f"import: turns[{i}]: {exc}") from None
    return turns
