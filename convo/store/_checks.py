"""What the store refuses before anything is written, the same on every backend.

Ids are compared byte for byte on every backend (MariaDB included, through a NO PAD
binary collation), but an id with leading or trailing whitespace or a control character
is almost always a bug in the caller (a line read with its newline, a padded column), and
it would look like another conversation's id in logs and listings: it is refused.
Short header strings and metadata keys are checked against their column sizes here
because the backends disagree on what too long means (SQLite stores it, PostgreSQL
refuses it, MariaDB truncates or refuses depending on its SQL mode).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from convo.errors import InputError
from convo.store._types import ID_LENGTH, SHORT_LENGTH
from convo.store.base import ConversationHeader, TurnMeta

__all__ = ["check_header", "check_id", "check_metadata_keys", "check_turn"]

# C0, DEL and C1 controls; and whitespace at either end (str.isspace's notion, which
# includes U+0085, U+00A0 and U+3000).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

_SHORT_FIELDS = ("model", "template_name", "template_hash")


def check_id(conversation_id: object) -> None:
    """Refuse an id that is not 1 to 64 characters, has edge whitespace or a control
    character.

    >>> check_id("c1")
    >>> check_id("c1 ")
    Traceback (most recent call last):
    ...
    convo.errors.InputError: a conversation id has no leading or trailing whitespace: 'c1 '
    """
    if not isinstance(conversation_id, str) or not 0 < len(conversation_id) <= ID_LENGTH:
        raise InputError(f"a conversation id is a string of 1 to {ID_LENGTH} characters")
    if _CONTROL.search(conversation_id):
        raise InputError(f"a conversation id holds no control characters: {conversation_id!r}")
    if conversation_id != conversation_id.strip():
        raise InputError(
            f"a conversation id has no leading or trailing whitespace: {conversation_id!r}"
        )


def check_metadata_keys(keys: Iterable[object]) -> None:
    """Metadata keys are 1 to 255 characters without NUL (they are primary-key columns)."""
    for key in keys:
        if not isinstance(key, str) or not 0 < len(key) <= SHORT_LENGTH or "\x00" in key:
            raise InputError(
                f"a metadata key is a string of 1 to {SHORT_LENGTH} characters without NUL:"
                f" {str(key)[:40]!r}"
            )


def check_header(header: ConversationHeader) -> None:
    """The header's id, short strings and metadata keys fit their columns on every backend."""
    check_id(header.id)
    if header.forked_from is not None:
        check_id(header.forked_from)
    _short(header, _SHORT_FIELDS, SHORT_LENGTH)
    check_metadata_keys(header.metadata)


def check_turn(meta: TurnMeta) -> None:
    """A turn's short strings fit their columns on every backend."""
    _short(meta, _SHORT_FIELDS, SHORT_LENGTH)
    _short(meta, ("finish_reason",), 64)


def _short(value: object, fields: Iterable[str], limit: int) -> None:
    for field in fields:
        text = getattr(value, field)
        if text is not None and (len(text) > limit or "\x00" in text):
            raise InputError(f"field {field!r} is at most {limit} characters without NUL")


_KEY = re.compile(r"[0-9a-f]{24}")


def check_keys(keys: Sequence[str], count: int) -> None:
    """Keys a caller gives for new messages: one each, the shape of the store's own.

    Only that shape (96 bits in hex, as ``secrets.token_hex(12)`` makes them) keeps them
    apart from the keys revision 0006 gave older rows (``r<row id>``).
    """
    if len(keys) != count or len(set(keys)) != count:
        raise InputError(f"keys: {count} different keys needed, one per message")
    for key in keys:
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise InputError(f"key {key!r} is not 24 lowercase hex digits")
