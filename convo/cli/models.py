"""``convo models``: the models, their aliases and the default, and setting them.

convo models                        every model, where it is served, the default
convo models default [NAME]         print, or set, the default model
convo models alias NAME MODEL       save an alias in models.json
convo models alias --remove NAME    remove it
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from convo.cli.base import Group, cli, errors

if TYPE_CHECKING:
    from convo.models import ModelSettings


def _served_by(name: str, settings: dict[str, ModelSettings]) -> str:
    from convo import plugins

    entry = settings.get(name)
    if entry is None:
        served = plugins.manager().resolve(name)
        return f"plugin {served.plugin}" if served else "no plugin serves it"
    facts = [entry.base_url or "$OPENAI_BASE_URL or OpenAI"]
    if entry.api_key_env:
        facts.append(f"key ${entry.api_key_env}")
    if entry.context_window:
        facts.append(f"window {entry.context_window}")
    return f"models.json: {', '.join(facts)}"


@cli.group("models", cls=Group, invoke_without_command=True)
@click.pass_context
def models_(ctx: click.Context) -> None:
    """List the models: who serves each, their aliases, and the default (and why)."""
    if ctx.invoked_subcommand is not None:
        return
    from convo import models as registry

    with errors():
        default, why = registry.default_choice()
        settings = registry.configured()
        aliases: dict[str, list[str]] = {}
        for alias, target in sorted(registry.aliases().items()):
            aliases.setdefault(target, []).append(alias)
        names = dict.fromkeys([*registry.model_names(), *settings, *aliases, default])
        for name in names:
            notes = [_served_by(name, settings)]
            if name in aliases:
                notes.append(f"aliases: {', '.join(aliases[name])}")
            if name == default:
                notes.append("default")
            click.echo(f"{name}  ({'; '.join(notes)})")
        click.echo(f"The default is {default} ({why}).", err=True)


@models_.command()
@click.argument("name", required=False)
def default(name: str | None) -> None:
    """Print the default model, or make NAME (a model or alias) the default."""
    from convo import models as registry

    with errors():
        if name is None:
            click.echo(registry.default_model())
            return
        registry.set_default(name)
        click.echo(
            f"The default model is now {registry.resolve(name)} (in {registry.config_path()}).",
            err=True,
        )


@models_.command()
@click.argument("name")
@click.argument("model", required=False)
@click.option("--remove", is_flag=True, help="Remove the alias NAME.")
def alias(name: str, model: str | None, remove: bool) -> None:
    """Save NAME as an alias of MODEL in models.json, or --remove it."""
    from convo import models as registry

    with errors():
        if remove:
            if model is not None:
                raise click.UsageError("--remove takes the alias NAME only")
            registry.remove_alias(name)
            click.echo(f"Removed the alias {name}.", err=True)
            return
        if model is None:
            raise click.UsageError("give NAME and MODEL (or --remove NAME)")
        registry.set_alias(name, model)
        click.echo(f"{name} now stands for {model}.", err=True)
