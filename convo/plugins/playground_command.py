"""The built-in ``convo playground`` command: the browser playground on loopback.

A plugin like any other (it registers through ``register_commands``), so the core
command line never imports the web server. See docs/playground.md.
"""

from __future__ import annotations

from typing import Any

import click

from convo.plugins.hookspecs import hookimpl

__all__ = ["playground", "register_commands"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8765, show_default=True, type=int, help="Port (0: any free).")
@click.option(
    "--base-url",
    default=None,
    help="Pre-fill the page's Base URL (default: this server's /v1).",
)
@click.option("--open/--no-open", "open_", default=False, help="Open the page in a browser.")
def playground(host: str, port: int, base_url: str | None, open_: bool) -> None:
    """Serve the API playground: try any OpenAI-compatible endpoint in the browser.

    The API key stays in the browser; this server only serves the page's files.
    """
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise click.ClickException(
            "convo playground needs uvicorn: pip install 'convo[playground]'"
        ) from exc
    from convo.playground import create_app

    config = uvicorn.Config(
        create_app(default_base_url=base_url), host=host, port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    if open_:
        import threading
        import webbrowser

        def _open() -> None:
            while not server.started:
                threading.Event().wait(0.05)
            webbrowser.open(f"http://{host}:{server.servers[0].sockets[0].getsockname()[1]}/")

        threading.Thread(target=_open, daemon=True).start()
    click.echo(f"Playground on http://{host}:{port}/ (Ctrl-C to stop)", err=True)
    server.run()


@hookimpl
def register_commands(cli: Any) -> None:
    cli.add_command(playground)
