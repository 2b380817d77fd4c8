"""Request parameters: checked where the API documents a range, passed through otherwise.

>>> check_params({"temperature": 0.7, "seed": 1})
{'temperature': 0.7, 'seed': 1}
>>> check_params({"top_p": 3})
Traceback (most recent call last):
...
convo.errors.ParameterError: top_p must be between 0 and 1, got 3
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from convo.errors import ParameterError

__all__ = ["RESERVED", "check_params"]

_RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "presence_penalty": (-2.0, 2.0),
    "frequency_penalty": (-2.0, 2.0),
}
_POSITIVE_INTS = ("n", "max_tokens", "max_completion_tokens")

# Keys the conversation sets itself; a caller passing them would desynchronise the history.
RESERVED = frozenset({"messages", "stream"})


def check_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate request parameters and return them as a new dict (unchanged values)."""
    out = dict(params)
    for key in RESERVED.intersection(out):
        raise ParameterError(f"{key!r} is set by the conversation, not as a parameter", param=key)
    for key, (lo, hi) in _RANGES.items():
        value = out.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise ParameterError(f"{key} must be a number, got {value!r}", param=key)
        if not lo <= value <= hi:
            raise ParameterError(
                f"{key} must be between {lo:g} and {hi:g}, got {value!r}", param=key
            )
    for key in _POSITIVE_INTS:
        value = out.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ParameterError(f"{key} must be an integer >= 1, got {value!r}", param=key)
    stop = out.get("stop")
    if stop is not None and not (
        isinstance(stop, str)
        or (isinstance(stop, list | tuple) and all(isinstance(s, str) for s in stop))
    ):
        raise ParameterError(
            f"stop must be a string or a list of strings, got {stop!r}", param="stop"
        )
    user = out.get("user")
    if user is not None and not isinstance(user, str):
        raise ParameterError(f"user must be a string, got {user!r}", param="user")
    return out
