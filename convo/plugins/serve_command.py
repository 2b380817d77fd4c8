"""The built-in plugin that adds ``convo serve`` (needs the ``convo[serve]`` extra)."""

from __future__ import annotations

from typing import Any

import click

from convo.plugins.hookspecs import hookimpl

__all__ = ["register_commands"]


@click.command("serve")
@click.option("--db", help="SQLAlchemy URL of the store (default: SQLite in the data directory).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--model", help="The model when a request names none.")
@click.option("--alias", "aliases", multiple=True, metavar="NAME=MODEL", help="A model alias.")
@click.option("--api-key", "api_keys", multiple=True, help="A tenant's bearer key (repeatable).")
@click.option(
    "--keys-file", type=click.Path(exists=True, dir_okay=False), help="Tenant keys, one a line."
)
def serve(
    db: str | None,
    host: str,
    port: int,
    workers: int,
    model: str | None,
    aliases: tuple[str, ...],
    api_keys: tuple[str, ...],
    keys_file: str | None,
) -> None:
    """An OpenAI-compatible server with memory (see docs/serve.md)."""
    try:
        from convo.serve.main import is_loopback, read_keys, run
    except ImportError as exc:
        raise click.ClickException(
            f"convo serve needs: pip install 'convo[serve]' ({exc})"
        ) from None
    keys = [*api_keys, *(read_keys(keys_file) if keys_file else ())]
    if not keys and not is_loopback(host):
        raise click.UsageError(
            f"without --api-key, convo serve listens on loopback only, not {host}"
        )
    if workers > 1 and (db is None or db.startswith("sqlite")):
        click.echo(
            "Note: several workers on SQLite serialize their writes; use PostgreSQL.", err=True
        )
    pairs = {}
    for item in aliases:
        name, sep, target = item.partition("=")
        if not sep or not name or not target:
            raise click.UsageError(f"--alias takes NAME=MODEL, got {item!r}")
        pairs[name] = target
    who = f"{len(keys)} tenant key(s)" if keys else "no keys: loopback only, one local tenant"
    click.echo(f"convo serve on http://{host}:{port}/v1 ({who}, {workers} worker(s))", err=True)
    config = {"db": db, "keys": keys, "model": model, "aliases": pairs}
    run(config, host=host, port=port, workers=workers)


@hookimpl
def register_commands(cli: Any) -> None:
    cli.add_command(serve)
