"""What is installed: ``templates``, ``plugins`` (``models`` is in convo.cli.models)."""

from __future__ import annotations

import click

from convo.cli.base import cli, errors, one_line


@cli.command()
def templates() -> None:
    """List the templates that plugins provide, with their variables."""
    from convo import plugins

    with errors():
        owner = {t: p.name for p in plugins.plugins() for t in p.templates}
        registry = plugins.templates()
        for name in registry.names():
            variables = ", ".join(sorted(registry.get(name).variables)) or "-"
            click.echo(f"{name}  (plugin {owner.get(name, '?')}; variables: {variables})")


@cli.command("plugins")
def plugins_() -> None:
    """List installed plugins, what each registered, and any that failed to load."""
    from convo import plugins

    with errors():
        for info in plugins.plugins():
            click.echo(f"{info.name} {info.version or ''}".rstrip())
            rows = [
                ("hooks", info.hooks),
                ("models", info.models),
                ("tools", info.tools),
                ("templates", info.templates),
            ]
            for label, values in rows:
                if values:
                    click.echo(f"  {label}: {', '.join(values)}")
            if info.error:
                click.echo(f"  error: {one_line(info.error)}")
