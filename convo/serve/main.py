"""Running the server: the configuration a worker process is started with.

``uvicorn`` starts each worker from :func:`app_from_env`, so ``--workers N`` gives N
processes that share nothing but the database. The configuration reaches them in the
environment variable ``CONVO_SERVE_CONFIG`` (JSON), set by ``convo serve`` for its
own children only.

>>> cfg = config_from_json('{"db": "sqlite:///x.db", "keys": ["k"], "model": "m"}')
>>> cfg.model, len(cfg.keys)
('m', 1)
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from convo.serve.app import MAX_BODY, ServeConfig, create_app

__all__ = ["ENV", "app_from_env", "config_from_json", "is_loopback", "read_keys", "run"]

ENV = "CONVO_SERVE_CONFIG"


def config_from_json(text: str) -> ServeConfig:
    data = json.loads(text)
    return ServeConfig(
        db=data.get("db"),
        keys=tuple(data.get("keys") or ()),
        model=data.get("model"),
        aliases=dict(data.get("aliases") or {}),
        max_body=int(data.get("max_body") or MAX_BODY),
    )


def app_from_env() -> Starlette:
    """The app of one worker (uvicorn's factory)."""
    access = logging.getLogger("convo.serve.access")
    if not access.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        access.addHandler(handler)
        access.setLevel(logging.INFO)
        access.propagate = False
    return create_app(config_from_json(os.environ.get(ENV, "{}")))


def read_keys(path: str | Path) -> list[str]:
    """API keys, one a line; blank lines and ``#`` comments are skipped."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [k.strip() for k in lines if k.strip() and not k.strip().startswith("#")]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(config: dict[str, Any], *, host: str, port: int, workers: int) -> None:
    """Serve until interrupted; in-flight turns finish before a worker exits."""
    import uvicorn

    os.environ[ENV] = json.dumps(config)
    uvicorn.run(
        "convo.serve.main:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers if workers > 1 else None,
        timeout_keep_alive=30,  # SDK clients keep connections; a short timeout races reuse
        access_log=False,  # ours says the tenant and conversation, never a key
        log_level="info",
    )
