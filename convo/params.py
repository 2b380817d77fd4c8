"""Request parameters: three namespaces kept apart, checked before any I/O.

A keyword given to ``Conversation(...)``, ``send()`` or ``stream()`` is one of:

* **convo's own option** (:data:`OWN`: ``response_format``, ``choose``, ``tools``,
  ``cancel_pending``) - taken out, never sent as such;
* **a transport option** (:data:`TRANSPORT`: ``timeout``, ``extra_headers``,
  ``extra_query``, ``extra_body``, ``max_retries``), as openai-python takes them per
  request - carried in :class:`~convo.request.RequestOptions` beside the body, except
  ``extra_body``, whose fields are merged into the body unchecked, as the SDK does;
* **an API parameter** - everything else, sent in the body. Where the API documents a
  range it is checked here; every value must be JSON (``Decimal`` and numpy numbers
  are read as numbers).

Client settings (:data:`CLIENT`: ``api_key``, ``base_url``, ``organization``,
``project``) are refused: they belong to the transport, and in the body they would be
sent to the server.

>>> check_params({"temperature": 0.7, "seed": 1})
{'temperature': 0.7, 'seed': 1}
>>> check_params({"top_p": 3})
Traceback (most recent call last):
...
convo.errors.ParameterError: top_p must be between 0 and 1, got 3
>>> split_params({"timeout": 5, "temperature": 0}).options.timeout
5
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from convo.errors import ParameterError
from convo.request import NO_OPTIONS, RequestOptions

__all__ = ["CLIENT", "OWN", "RESERVED", "TRANSPORT", "Split", "check_params", "split_params"]

_RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "presence_penalty": (-2.0, 2.0),
    "frequency_penalty": (-2.0, 2.0),
}
_POSITIVE_INTS = ("n", "max_tokens", "max_completion_tokens")
_MAX_STOP = 4  # the API refuses more stop sequences

# Keys the conversation sets itself; a caller passing them would desynchronise the history.
RESERVED = frozenset({"messages", "stream"})
OWN = frozenset({"response_format", "choose", "tools", "cancel_pending"})
TRANSPORT = frozenset({"timeout", "extra_headers", "extra_query", "extra_body", "max_retries"})
CLIENT = frozenset({"api_key", "base_url", "organization", "project"})


class Split(NamedTuple):
    """One call's keywords, by namespace (see the module docstring). A named tuple, as
    the turn's context is: made on every call, and a frozen dataclass costs a setattr
    call per field."""

    api: dict[str, Any]
    own: dict[str, Any]
    options: RequestOptions
    extra_body: dict[str, Any]
    model: str | None


def split_params(params: Mapping[str, Any], *, base: RequestOptions = NO_OPTIONS) -> Split:
    """Sort keywords into their namespaces; the API ones are not checked here.

    ``base`` is the conversation's own transport options, which these override.
    """
    api: dict[str, Any] = {}
    own: dict[str, Any] = {}
    transport: dict[str, Any] = {}
    model = None
    for key, value in params.items():
        if key in OWN:
            own[key] = value
        elif key in TRANSPORT:
            transport[key] = value
        elif key in CLIENT:
            raise ParameterError(
                f"{key!r} is a client setting, not a request parameter (it would be sent "
                f"to the server in the body): give it to the transport, "
                f"OpenAITransport({key}=...), and pass transport= to the conversation",
                param=key,
            )
        elif key == "model":
            model = _model(value)
        else:
            api[key] = value
    extra_body = transport.pop("extra_body", None)
    if extra_body is None:
        extra_body = {}
    elif not isinstance(extra_body, Mapping) or not all(isinstance(k, str) for k in extra_body):
        raise ParameterError("extra_body must be a dict with string keys", param="extra_body")
    options = _options(transport, base) if transport else base
    extra = {k: _json(v, "extra_body") for k, v in extra_body.items()}
    return Split(api, own, options, extra, model)


def _model(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ParameterError(f"model must be a non-empty string, got {value!r}", param="model")
    return value


def _options(given: Mapping[str, Any], base: RequestOptions) -> RequestOptions:
    timeout = given.get("timeout", base.timeout)
    plain = timeout is None or hasattr(timeout, "connect")  # None, or an httpx2.Timeout
    if not plain and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        raise ParameterError(
            f"timeout must be a number of seconds > 0 or an httpx2.Timeout, got {timeout!r}",
            param="timeout",
        )
    retries = given.get("max_retries", base.max_retries)
    if retries is not None and (isinstance(retries, bool) or not isinstance(retries, int)):
        raise ParameterError(
            f"max_retries must be an int >= 0, got {retries!r}", param="max_retries"
        )
    if retries is not None and retries < 0:
        raise ParameterError(
            f"max_retries must be an int >= 0, got {retries!r}", param="max_retries"
        )
    headers = given.get("extra_headers")
    if headers is None:
        headers = base.extra_headers
    elif not isinstance(headers, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise ParameterError("extra_headers must map strings to strings", param="extra_headers")
    else:
        headers = _merge_headers(base.extra_headers, headers)
    query = given.get("extra_query")
    if query is None:
        query = base.extra_query
    elif not isinstance(query, Mapping):
        raise ParameterError("extra_query must be a dict", param="extra_query")
    else:
        query = {**base.extra_query, **query}
    return RequestOptions(
        timeout=timeout, extra_headers=dict(headers), extra_query=dict(query), max_retries=retries
    )


def _merge_headers(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """``extra`` over ``base`` by HTTP's rule, names without case: a call's ``x-team``
    replaces a default ``X-Team`` instead of both being sent. The winner's spelling stays."""
    out = dict(base)
    for name, value in extra.items():
        lower = name.lower()
        for old in [k for k in out if k.lower() == lower]:
            del out[old]
        out[name] = value
    return out


def check_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate API parameters; return them as a new dict of plain JSON values."""
    if not params:  # most calls: nothing to check
        return {}
    for key in RESERVED.intersection(params):
        raise ParameterError(f"{key!r} is set by the conversation, not as a parameter", param=key)
    out = {key: _json(value, key) for key, value in params.items()}
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
    top = out.get("top_logprobs")
    if top is not None and (
        isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= 20
    ):
        raise ParameterError(
            f"top_logprobs must be an integer between 0 and 20, got {top!r}", param="top_logprobs"
        )
    bias = out.get("logit_bias")
    if bias is not None:
        _check_bias(bias)
    stop = out.get("stop")
    if stop is not None:
        if not (
            isinstance(stop, str)
            or (isinstance(stop, list) and all(isinstance(s, str) for s in stop))
        ):
            raise ParameterError(
                f"stop must be a string or a list of strings, got {stop!r}", param="stop"
            )
        if isinstance(stop, list) and len(stop) > _MAX_STOP:
            raise ParameterError(
                f"stop takes at most {_MAX_STOP} sequences, got {len(stop)}", param="stop"
            )
    user = out.get("user")
    if user is not None and not isinstance(user, str):
        raise ParameterError(f"user must be a string, got {user!r}", param="user")
    return out


def _check_bias(bias: Any) -> None:
    if not isinstance(bias, dict):
        raise ParameterError("logit_bias must map token ids to numbers", param="logit_bias")
    for token, value in bias.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not -100 <= value <= 100
        ):
            raise ParameterError(
                f"logit_bias values must be between -100 and 100, got {value!r} for {token!r}",
                param="logit_bias",
            )


def _json(value: Any, param: str) -> Any:
    """``value`` as plain JSON (a copy of its containers), or a ParameterError naming
    ``param``: found before any I/O, not as an encoder's TypeError mid-request."""
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if isinstance(k, numbers.Integral) and not isinstance(k, bool):
                k = str(int(k))  # logit_bias token ids: JSON keys are strings
            elif not isinstance(k, str):
                raise ParameterError(
                    f"{param} has a key that is not a string ({k!r}); it cannot be sent as JSON",
                    param=param,
                )
            out[k] = _json(v, param)
        return out
    if isinstance(value, list | tuple):
        return [_json(v, param) for v in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, numbers.Integral):  # numpy integers, IntEnum
        return int(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ParameterError(f"{param} must be a finite number, got {value!r}", param=param)
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, numbers.Real):  # numpy floats, Fraction
        return float(value)
    raise ParameterError(f"{param} is a {kind.__name__}, which cannot be sent as JSON", param=param)
