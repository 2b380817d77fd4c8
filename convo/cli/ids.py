"""Conversation ids as users type them: the whole id, or a prefix only one id has.

Every command that takes an ID (``show``, ``export``, ``rm``, ``usage``, ``logs``,
``--cid``) goes through :func:`full_id`, so they all accept the same short forms.
"""

from __future__ import annotations

from typing import Any

from convo.errors import ConversationNotFoundError, InputError

__all__ = ["full_id"]

_SHOWN = 5  # candidates listed in an ambiguity error


def full_id(store: Any, given: str) -> str:
    """The id ``given`` stands for: itself, or the one id that starts with it.

    Example: with conversations ``4f1c2a...`` and ``4f9b07...`` stored, ``4f1`` is
    ``4f1c2a...``, and ``4f`` is an error listing both.
    """
    found = store.ids(given, limit=_SHOWN + 1)
    if given in found or len(found) == 1:
        return given if given in found else str(found[0])
    if not found:
        raise ConversationNotFoundError(given)
    shown = ", ".join(found[:_SHOWN]) + (", ..." if len(found) > _SHOWN else "")
    raise InputError(f"the id prefix {given!r} matches several conversations: {shown}")
