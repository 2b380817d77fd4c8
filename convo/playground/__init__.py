"""The Playground: a browser page for trying any OpenAI-compatible endpoint by hand.

An ASGI application that serves static ES modules shipped inside the package (no
build step, no CDN) under a Content-Security-Policy without inline script or
``eval``. The API key never reaches this server: the page keeps it in the browser's
localStorage and sends it only as the ``Authorization`` header to the chosen base URL.

    from convo.playground import create_app
    app = create_app(default_base_url="http://127.0.0.1:8000/v1")

``convo playground`` serves it on loopback (see docs/playground.md).
"""

from convo.playground.app import CSP, create_app

__all__ = ["CSP", "create_app"]
