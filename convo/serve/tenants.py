"""Who is asking: a bearer key is a tenant, and a tenant's ids are its own.

Every id a client sees is stored under a tenant prefix (``<tag>.<id>``, where the tag is a
hash of the tenant's key), so one tenant's id names nothing in another tenant's space: it
is a 404, never a 403 that would confirm it exists. Without keys there is one tenant,
``local``, and the server listens on loopback only.

>>> t = Tenants(["sk-a", "sk-b"])
>>> t.tenant("Bearer sk-a") != t.tenant("Bearer sk-b")
True
>>> t.tenant("Bearer nope") is None
True
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable

from convo.serve.errors import ApiError

__all__ = ["LOCAL", "Tenants", "check_id", "new_id", "public_id", "stored_id"]

LOCAL = "local"
_ID = re.compile(r"[A-Za-z0-9_-]{1,48}")


class Tenants:
    """The configured keys; ``tenant(authorization)`` is the tenant's tag or None."""

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._tags = {hashlib.sha256(k.encode()).digest(): _tag(k) for k in keys if k}

    @property
    def open(self) -> bool:
        """No keys: every request is the one local tenant."""
        return not self._tags

    def tenant(self, authorization: str | None) -> str | None:
        if self.open:
            return LOCAL
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not key:
            return None
        digest = hashlib.sha256(key.strip().encode()).digest()
        for known, tag in self._tags.items():  # compared in constant time, all of them
            if hmac.compare_digest(known, digest):
                return tag
        return None

    def __repr__(self) -> str:
        return f"Tenants({len(self._tags)} keys)"  # never the keys


def _tag(key: str) -> str:
    return "t" + hashlib.sha256(b"convo-serve-tenant:" + key.encode()).hexdigest()[:12]


def check_id(value: object, what: str = "id") -> str:
    """An id a client gave: 1-48 of ``A-Za-z0-9_-``, else 400."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ApiError(
            400, f"invalid {what}: 1 to 48 of A-Z a-z 0-9 _ -", param=what, code="invalid_id"
        )
    return value


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(16)}"


#: The metadata key that marks a stored conversation as one of a tenant's conversations
#: (``GET /v1/conversations`` lists by it; responses, stored too, do not carry it).
LISTED = "serve:tenant"


def stored_id(tenant: str, public: str) -> str:
    """The store's id of a tenant's ``public`` id."""
    return f"{tenant}.{public}"


def public_id(stored: str) -> str:
    return stored.partition(".")[2]
