"""What every ``convo`` command shares: one-line errors, the group, the common options."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import click

import convo

F = TypeVar("F", bound=Callable[..., Any])

INTERRUPTED = "Interrupted: nothing of this turn was saved."


class TurnInterrupted(Exception):
    """Ctrl-C arrived while a reply was streaming; the turn was dropped."""


def one_line(text: str) -> str:
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"Error: {one_line(message)}", err=True)
    sys.exit(code)


class Group(click.Group):
    """A click group whose usage errors, like every other error, are one line on stderr."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            fail(exc.format_message() + hint, exc.exit_code)
        except click.ClickException as exc:
            fail(exc.format_message(), exc.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


class Root(Group):
    """The ``convo`` group. Plugins' commands are added on first need, not at start-up:
    a built-in command such as ``convo ls`` runs without loading any plugin."""

    _plugins_added = False

    def _add_plugin_commands(self) -> None:
        if not self._plugins_added:
            self._plugins_added = True
            from convo import plugins

            plugins.register_commands(self)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and not self._plugins_added:
            self._add_plugin_commands()
            command = super().get_command(ctx, cmd_name)
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands()
        return super().list_commands(ctx)


@contextmanager
def errors() -> Iterator[None]:
    # Users see one line, never a traceback, and a non-zero exit.
    try:
        yield
    except TurnInterrupted:
        click.echo(f"\n{INTERRUPTED}", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("\nInterrupted.", err=True)
        sys.exit(130)
    except convo.ConvoError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{type(exc).__name__}: {exc}")


# -- options ---------------------------------------------------------------------------


def db_option(fn: F) -> F:
    return click.option(
        "--db",
        envvar="CONVO_DB",
        metavar="URL",
        help="SQLAlchemy URL of the store (default: $CONVO_DB, else convo.db in the data dir).",
    )(fn)


def conversation_options(fn: F) -> F:
    options = [
        click.option("-m", "--model", help="Model name or alias (see `convo models`)."),
        click.option(
            "-c", "--continue", "continue_", is_flag=True, help="Continue the latest conversation."
        ),
        click.option("--cid", metavar="ID", help="Continue the conversation with this id."),
        click.option("-s", "--system", help="System prompt (new conversations)."),
        click.option(
            "-t",
            "--template",
            metavar="NAME|FILE",
            help="System prompt from a plugin template or a .prompty/.jinja file.",
        ),
        click.option(
            "--var", "variables", multiple=True, metavar="KEY=VALUE", help="Template variable."
        ),
        click.option(
            "-T", "--tool", "tool_names", multiple=True, help="Enable a plugin tool (repeatable)."
        ),
        click.option(
            "--mcp",
            "mcp_servers",
            multiple=True,
            metavar="COMMAND|URL|NAME",
            help='Use an MCP server\'s tools, e.g. --mcp "python server.py" (repeatable).',
        ),
        click.option(
            "-o",
            "--option",
            "options",
            nargs=2,
            multiple=True,
            metavar="KEY VALUE",
            help="Request parameter, e.g. -o temperature 0.2 -o max_tokens 200 (JSON values).",
        ),
        click.option(
            "--window",
            type=click.IntRange(min=1),
            metavar="N",
            help="Context window to budget with, in tokens (instead of the model's).",
        ),
        click.option("-u", "--usage", is_flag=True, help="Show token usage after each reply."),
        db_option,
        click.option("-n", "--no-save", is_flag=True, help="Do not save this conversation."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@click.group(cls=Root)
@click.version_option(version=convo.__version__, prog_name="convo")
def cli() -> None:
    """convo: conversations with large language models."""
