"""Where the HTTP transport's requests go, and how their bodies are encoded.

:class:`Endpoint` holds the URL (a query in it kept), the default headers and the
credentials, and scrubs them from any text; :func:`encode_json` turns a body into the
bytes sent. No I/O: the call core (:mod:`convo.transports._http`) uses them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

import httpx2
import orjson
from pydantic import SecretStr

from convo.redact import scrub_error, scrub_value

__all__ = [
    "STREAM_ACCEPT",
    "Endpoint",
    "content_type",
    "encode_json",
    "merge_headers",
    "response_info",
]

_SCRUBBED = "***"

E = TypeVar("E", bound=BaseException)


class Endpoint:
    """Where requests go and with which credentials; the key never leaves as text.

    ``base_url`` may carry a query (Azure's ``?api-version=``), kept on every request
    with ``default_query`` added; a password in it is shown as ``***`` (:attr:`shown`).
    User headers replace the defaults whatever their case.

    >>> e = Endpoint("http://user:pw@127.0.0.1:8000/v1/?api-version=1", SecretStr("sk-k"), {})
    >>> e.url, e.shown, e.scrub("bad key sk-k")
    ('http://user:pw@127.0.0.1:8000/v1/chat/completions?api-version=1', \
'http://user:***@127.0.0.1:8000/v1?api-version=1', 'bad key ***')
    """

    __slots__ = ("_api_key", "_base", "_headers", "_secrets", "base_url", "shown", "url")

    def __init__(
        self,
        base_url: str,
        api_key: SecretStr | None,
        headers: Mapping[str, str],
        default_query: Mapping[str, Any] | None = None,
    ):
        base = httpx2.URL(base_url.rstrip("/"))
        path = base.path.rstrip("/")
        if default_query:
            base = base.copy_merge_params(dict(default_query))
        self._base = base
        self.base_url = str(base.copy_with(path=path or "/")).rstrip("/")
        self.url = str(base.copy_with(path=f"{path}/chat/completions"))
        userinfo = base.userinfo.decode("ascii", "replace")
        user, _, raw_password = userinfo.partition(":")
        secrets = [api_key.get_secret_value() if api_key else "", raw_password, base.password]
        self._secrets = tuple(s for s in dict.fromkeys(secrets) if s)
        self.shown = self.base_url
        if raw_password:
            self.shown = self.base_url.replace(f"{userinfo}@", f"{user}:{_SCRUBBED}@", 1)
        self._api_key = api_key
        common = {"content-type": "application/json", "user-agent": "convo"}
        if api_key is not None:
            common["authorization"] = f"Bearer {api_key.get_secret_value()}"
        common.update(merge_headers({}, headers))
        self._headers = {
            False: {"accept": "application/json", **common},
            True: {"accept": "text/event-stream", **common},
        }
        for variant in self._headers.values():
            variant.update(merge_headers({}, headers))  # a user's Accept wins too

    def headers(self, stream: bool) -> dict[str, str]:
        return self._headers[stream]

    @property
    def client_headers(self) -> dict[str, str]:
        """The headers a client made for this endpoint carries on every request."""
        return self._headers[False]

    def url_for(self, query: Mapping[str, Any]) -> str:
        """The request URL with a call's ``extra_query`` added."""
        if not query:
            return self.url
        return str(httpx2.URL(self.url).copy_merge_params(dict(query)))

    def scrub(self, text: str) -> str:
        """``text`` with every copy of the API key (and a URL's password) replaced."""
        for secret in self._secrets:
            text = text.replace(secret, _SCRUBBED)
        return text

    def scrub_all(self, value: Any) -> Any:
        """``scrub`` applied to every string inside a JSON value."""
        return scrub_value(value, self.scrub)

    def scrub_error(self, error: E) -> E:
        """``error`` without the secrets (see :func:`scrub_error`)."""
        if not self._secrets:
            return error
        return scrub_error(error, self.scrub)


def merge_headers(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """``extra`` over ``base``, names compared without case (HTTP's rule), lower-cased.

    >>> merge_headers({"authorization": "Bearer a"}, {"Authorization": "Bearer b"})
    {'authorization': 'Bearer b'}
    """
    out = {k.lower(): v for k, v in base.items()}
    for k, v in extra.items():
        out[k.lower()] = v
    return out


STREAM_ACCEPT = {"accept": "text/event-stream"}


def encode_json(body: Mapping[str, Any]) -> bytes:
    """The body as compact UTF-8 JSON, encoded once per call (not per attempt; once
    more only for the retry without a refused ``stream_options``).

    orjson, because measurement says so: a 400-message body takes ~150 us with the
    json module and ~15 us with orjson, the largest single cost convo adds to a call.
    Values orjson refuses (non-string keys, integers past 64 bits) fall back to json.
    """
    try:
        return orjson.dumps(body)
    except TypeError:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def response_info(headers: Mapping[str, str]) -> dict[str, Any]:
    """What a response's headers tell about the reply: its request id, and the raw
    headers themselves (rate limits, processing time), lower-cased."""
    return {"request_id": headers.get("x-request-id"), "headers": dict(headers.items())}


def content_type(headers: Mapping[str, str]) -> str:
    return headers.get("content-type", "").partition(";")[0].strip().lower()
