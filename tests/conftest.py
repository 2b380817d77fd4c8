"""Shared fixtures. The network is blocked for every test: only loopback may be reached."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

# One llama_cpp.server for the whole run, shared by every test that asks for it.
from tests.support.llama_server import llama_server  # noqa: F401

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _is_local(address: Any) -> bool:
    if isinstance(address, str | bytes):  # a Unix socket path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class NetworkBlocked(RuntimeError):
    pass


def _guard(address: Any) -> None:
    if not _is_local(address):
        raise NetworkBlocked(f"tests may not reach the internet (tried {address!r})")


def _connect(self: socket.socket, address: Any) -> None:
    _guard(address)
    return _real_connect(self, address)


def _connect_ex(self: socket.socket, address: Any) -> int:
    _guard(address)
    return _real_connect_ex(self, address)


def _getaddrinfo(host: Any, *args: Any, **kw: Any) -> Any:
    if host not in (None, "localhost") and not _is_local((host, 0)):
        raise NetworkBlocked(f"tests may not resolve internet hosts (tried {host!r})")
    return _real_getaddrinfo(host, *args, **kw)


@pytest.fixture(autouse=True)
def _block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", _getaddrinfo)
    # No test may pick up a developer's real endpoint or key by accident.
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CONVO_DB", "CONVO_MODEL"):
        monkeypatch.delenv(var, raising=False)
