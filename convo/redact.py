"""Credentials out of what convo writes for people to read: cassettes (at record time,
and on live requests before matching, so a scrubbed body still matches its recording)
and captured trace content.

>>> scrub({"api_key": "abc", "messages": [{"content": "key sk-proj-abcdefghijklmnop1234"}]})
{'api_key': '<scrubbed>', 'messages': [{'content': 'key <scrubbed>'}]}
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

__all__ = ["SCRUBBED", "scrub", "scrub_error", "scrub_value"]

SCRUBBED = "<scrubbed>"

# Names whose value is a credential wherever they appear (headers, bodies, query strings).
_SECRET_NAMES = re.compile(
    r"^(?:x-)?(?:api[-_]?key|apikey|authorization|proxy-authorization|access[-_]token|"
    r"refresh[-_]token|secret|client[-_]secret|password|token|key|bearer)$",
    re.IGNORECASE,
)
# Key-shaped values: OpenAI/Anthropic-style keys, bearer credentials, Google API keys,
# and credentials in query strings.
_SECRET_VALUES = re.compile(
    r"(?P<keep>Bearer |[?&](?:key|api_key|apikey|token|access_token)=)[^&\s\"']{4,}"
    r"|(?:sk|rk|pk)-[A-Za-z0-9_\-]{16,}"
    r"|AIza[0-9A-Za-z_\-]{30,}",
    re.IGNORECASE,
)


def _replace(match: re.Match[str]) -> str:
    return (match.group("keep") or "") + SCRUBBED


def scrub(value: Any, secrets: Iterable[str] = ()) -> Any:
    """``value`` (JSON-like) with credentials replaced by ``"<scrubbed>"``: values under
    secret-looking names, key-shaped strings anywhere, and the literal ``secrets``."""
    literal = tuple(s for s in secrets if s)
    return _scrub(value, literal)


def _scrub(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, SCRUBBED)
        return _SECRET_VALUES.sub(_replace, value)
    if isinstance(value, dict):
        return {
            k: SCRUBBED
            if isinstance(k, str) and _SECRET_NAMES.match(k) and isinstance(v, str)
            else _scrub(v, secrets)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v, secrets) for v in value]
    return value


E = TypeVar("E", bound=BaseException)


def scrub_value(value: Any, clean: Callable[[str], str]) -> Any:
    """``clean`` applied to every string inside a JSON-like value (keys too)."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {scrub_value(k, clean): scrub_value(v, clean) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_value(v, clean) for v in value]
    if isinstance(value, tuple):
        return tuple(scrub_value(v, clean) for v in value)
    return value


def scrub_error(error: E, clean: Callable[[str], str]) -> E:
    """``error`` with ``clean`` applied to everything it shows: its args (so ``str``
    and ``repr``) and every attribute (message, snippet, type, code, body...).

    The one place every transport's errors pass, streamed or not: whichever module
    built the error from server text, nothing leaves with the key. A chained
    exception that shows a secret (a JSON decode error keeps the whole document) is
    detached, as it cannot be cleaned.
    """
    error.args = tuple(scrub_value(a, clean) for a in error.args)
    for name, value in list(vars(error).items()):
        if not name.startswith("__"):
            setattr(error, name, scrub_value(value, clean))
    link = error.__cause__ or error.__context__
    while link is not None:
        shown = f"{link!s} {link!r} {link.args!r} {vars(link)!r}"
        if clean(shown) != shown:
            error.__cause__ = error.__context__ = None
            error.__suppress_context__ = True
            break
        link = link.__cause__ or link.__context__
    return error
