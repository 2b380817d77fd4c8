"""When to retry a request and how long to wait first: pure functions, no I/O, no clock.

The policy is the official OpenAI SDK's, with its loose ends tied:

* 408, 409, 429 and every 5xx are retried, and so are connection failures and
  timeouts (the drivers retry those only while nothing has reached the caller).
* ``x-should-retry: true`` / ``false`` overrides the status, as the SDK does.
* The wait is exponential backoff: 0.5 s doubling up to 8 s, minus up to 25% jitter,
  unless the server says how long: ``retry-after-ms`` first, then ``Retry-After``
  as seconds or as an HTTP date. A usable value is honoured exactly, without jitter.
* Unlike the SDK, a wait longer than :data:`MAX_RETRY_AFTER` is not replaced by a
  short backoff (that would hammer a server that asked for quiet): the request
  gives up at once, and the error carries the wait so the caller can decide.
* Only plain numbers count (``"2"``, ``"1.5"``); ``"0"``, ``"-5"``, ``"abc"``,
  ``"inf"`` and ``"1e308"`` are ignored and backoff applies.

>>> next_delay(0, max_retries=2, headers={"retry-after": "2"}, now=0.0, jitter=0.5)
2.0
>>> next_delay(1, max_retries=2, headers={}, now=0.0, jitter=0.0)
1.0
>>> next_delay(2, max_retries=2, headers={}, now=0.0, jitter=0.0) is None
True
"""

from __future__ import annotations

import email.utils
import math
import re
from collections.abc import Mapping

__all__ = [
    "INITIAL_DELAY",
    "MAX_DELAY",
    "MAX_RETRY_AFTER",
    "backoff",
    "next_delay",
    "retry_after",
    "should_retry",
]

INITIAL_DELAY = 0.5
"""Seconds before the first retry when the server gives no wait."""
MAX_DELAY = 8.0
"""The longest backoff, in seconds."""
MAX_RETRY_AFTER = 60.0
"""The longest server-requested wait honoured; longer ones give up at once."""

# HTTP's delta-seconds is digits only; a fraction is accepted as the SDK does.
# Exponents, signs and words are not numbers here.
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def should_retry(status: int, headers: Mapping[str, str]) -> bool:
    """Whether a response with this status may be retried (``headers`` keys lowercase).

    >>> should_retry(503, {}), should_retry(503, {"x-should-retry": "false"})
    (True, False)
    >>> should_retry(400, {}), should_retry(400, {"x-should-retry": "true"})
    (False, True)
    """
    header = headers.get("x-should-retry")
    if header == "true":
        return True
    if header == "false":
        return False
    return status in (408, 409, 429) or status >= 500


def retry_after(headers: Mapping[str, str], *, now: float) -> float | None:
    """The wait the server asked for, in seconds (positive, finite), or None.

    ``now`` is the current Unix time, used to read an HTTP date.

    >>> retry_after({"retry-after-ms": "1500"}, now=0.0)
    1.5
    >>> retry_after({"retry-after": "Thu, 01 Jan 1970 00:00:03 GMT"}, now=1.0)
    2.0
    >>> [retry_after({"retry-after": v}, now=0.0) for v in ("0", "-5", "abc", "inf", "1e308")]
    [None, None, None, None, None]
    """
    ms = _seconds(headers.get("retry-after-ms"))
    if ms is not None:
        return ms / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    try:
        wait = float(email.utils.mktime_tz(parsed)) - now
    except (OverflowError, ValueError):
        return None
    return wait if wait > 0 else None


def _seconds(value: str | None) -> float | None:
    if value is None or not _NUMBER.fullmatch(value.strip()):
        return None
    number = float(value)
    return number if 0 < number < math.inf else None


def backoff(retries: int, *, jitter: float) -> float:
    """The wait before retry number ``retries + 1``; ``jitter`` is uniform in [0, 1).

    >>> [backoff(n, jitter=0.0) for n in range(6)]
    [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    >>> backoff(0, jitter=1.0)
    0.375
    """
    return min(INITIAL_DELAY * 2.0 ** min(retries, 32), MAX_DELAY) * (1 - 0.25 * jitter)


def next_delay(
    retries: int, *, max_retries: int, headers: Mapping[str, str], now: float, jitter: float
) -> float | None:
    """Seconds to wait before the next attempt, or None to give up.

    ``retries`` is how many retries were already made; the caller has decided the
    failure is retryable. ``headers`` are the failed response's (empty if none came).
    """
    if retries >= max_retries:
        return None
    asked = retry_after(headers, now=now)
    if asked is not None:
        return asked if asked <= MAX_RETRY_AFTER else None
    return backoff(retries, jitter=jitter)
