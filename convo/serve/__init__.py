"""``convo serve``: an OpenAI-compatible server with memory, in front of any backend.

>>> from convo.serve import ServeConfig, create_app
>>> create_app(ServeConfig(db="sqlite://")).state.service.tenants.open
True

See docs/serve.md.
"""

from __future__ import annotations

from convo.serve.app import ServeConfig, Service, create_app

__all__ = ["ServeConfig", "Service", "create_app"]
