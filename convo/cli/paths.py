"""``convo path``: where convo keeps conversations and settings."""

from __future__ import annotations

from pathlib import Path

import click

import convo
from convo.cli.base import cli, db_option, errors

_WHAT = ("db", "config", "models")


def _sqlite_file(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


@cli.command()
@click.argument("what", type=click.Choice(_WHAT), required=False)
@db_option
def path(what: str | None, db: str | None) -> None:
    """Where the store and the settings are; WHAT prints one of them alone.

    `convo path db` is the SQLite file (else the store's URL), `config` the
    configuration directory, `models` the models.json file (it need not exist yet).
    """
    with errors():
        from convo import models

        with convo.SQLStore(db) as store:
            url = store.url  # a password in it is shown as ***
        file = _sqlite_file(url)
        settings = models.config_path()
        if what == "db":
            click.echo(str(file) if file is not None else url)
        elif what == "config":
            click.echo(settings.parent)
        elif what == "models":
            click.echo(settings)
        else:
            click.echo(f"database:      {url}")
            if file is not None:
                click.echo(f"database file: {file}")
            click.echo(f"config dir:    {settings.parent}")
            missing = "" if settings.is_file() else "  (not created yet)"
            click.echo(f"models.json:   {settings}{missing}")
