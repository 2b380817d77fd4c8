"""What convo keeps beside a stored conversation, in the header's own namespace.

A store's header has one ``metadata`` mapping. Keys under ``convo.`` belong to convo
(the user's keys may not start with it): the running summary, the tool calls a
suspended turn awaits, and a leading system or developer message that a plain
``system`` string cannot hold (a ``developer`` role, a name, content parts). They are
written with the turn that changes them, in the same transaction, and checked against
the history when loaded: a summary or an awaiting record that does not match the
history it is loaded with (a fork before it, a damaged row) is ignored, never trusted.

>>> user, own = split({"team": "a", "convo.summary": {"x": 1}})
>>> user, sorted(own)
({'team': 'a'}, ['convo.summary'])
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from convo.errors import ParameterError
from convo.messages import Message, to_messages
from convo.pending import Awaiting
from convo.summary import Summary
from convo.wire import message_to_wire

__all__ = [
    "PREFIX",
    "awaiting_from",
    "check_user_metadata",
    "header_metadata",
    "split",
    "summary_from",
    "system_from",
]

logger = logging.getLogger("convo")

PREFIX = "convo."
_SUMMARY = "convo.summary"
_AWAITING = "convo.awaiting"
_SYSTEM = "convo.system"


def check_user_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The user's metadata, refused if a key is convo's own."""
    for key in metadata:
        if not isinstance(key, str):
            raise ParameterError(f"metadata keys are strings, got {key!r}", param="metadata")
        if key.startswith(PREFIX):
            raise ParameterError(
                f"metadata key {key!r}: keys starting with {PREFIX!r} are convo's own",
                param="metadata",
            )
    return dict(metadata)


def split(metadata: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The user's keys and convo's own, apart."""
    user = {k: v for k, v in metadata.items() if not k.startswith(PREFIX)}
    own = {k: v for k, v in metadata.items() if k.startswith(PREFIX)}
    return user, own


def header_metadata(
    user: Mapping[str, Any],
    summary: Summary | None,
    awaiting: Awaiting | None,
    system: Message | None = None,
    offset: int = 0,
) -> dict[str, Any]:
    """The whole header metadata to store: the user's keys and convo's state.

    Positions are stored from the start of the whole history: ``offset`` is where the
    history in memory begins (a conversation loaded with ``tail=``).
    """
    out = dict(user)
    if summary is not None:
        out[_SUMMARY] = {
            "message": message_to_wire(summary.message),
            "covers": summary.covers + offset,
            "check": summary.check,
        }
    if awaiting is not None:
        data = awaiting.to_data()
        data["start"] = awaiting.start + offset
        out[_AWAITING] = data
    if system is not None:
        out[_SYSTEM] = message_to_wire(system)
    return out


def summary_from(
    own: Mapping[str, Any], history: Sequence[Message], offset: int = 0
) -> Summary | None:
    """The stored summary, if it holds for ``history`` (which begins at ``offset``)."""
    saved = own.get(_SUMMARY)
    if not isinstance(saved, Mapping):
        return None
    try:
        message = to_messages([saved["message"]])[0]
        covers, check = int(saved["covers"]) - offset, str(saved.get("check", ""))
    except (KeyError, TypeError, ValueError):
        logger.warning("a stored summary is damaged; it will be made again")
        return None
    if covers <= 0:
        # It covers only messages before the loaded tail: it stands for all of them.
        return Summary(message, 0, "") if offset else None
    summary = Summary(message, covers, check)
    return summary if summary.fits(history) else None


def awaiting_from(
    own: Mapping[str, Any], history: Sequence[Message], offset: int = 0
) -> Awaiting | None:
    """The stored record of a suspended turn, if ``history`` ends with its round."""
    saved = own.get(_AWAITING)
    if not isinstance(saved, Mapping):
        return None
    try:
        awaiting = Awaiting.from_data(saved)
        start = max(0, awaiting.start - offset)  # a tail may begin inside that turn
        awaiting = Awaiting(awaiting.message, awaiting.slots, start)
    except (KeyError, TypeError, ValueError) as exc:
        logger.warning("a stored record of pending tool calls is damaged (%s)", exc)
        return None
    # Only a history that ends with the awaited round is waiting for it.
    last = history[-1] if history else None
    if last is None or last.role != "assistant" or last.tool_calls != awaiting.message.tool_calls:
        return None
    return awaiting


def system_from(own: Mapping[str, Any]) -> Message | None:
    saved = own.get(_SYSTEM)
    if not isinstance(saved, Mapping):
        return None
    try:
        return to_messages([saved])[0]
    except (TypeError, ValueError):
        return None
