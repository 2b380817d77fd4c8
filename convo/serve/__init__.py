"""``convo serve``: an OpenAI-compatible server with memory, in front of any backend.

>>> import tempfile
>>> from convo.serve import ServeConfig, create_app
>>> db = f"sqlite:///{tempfile.mkdtemp()}/doc.db"
>>> create_app(ServeConfig(db=db, keys=["sk-a"])).state.service.tenants.open
False

See docs/serve.md.
"""

from __future__ import annotations

from convo.serve.app import ServeConfig, Service, create_app

__all__ = ["ServeConfig", "Service", "create_app"]
