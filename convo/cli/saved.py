"""Saved conversations: ``ls``, ``show``, ``usage``, ``export``, ``import``, ``rm``.

Every ID may be shortened to a prefix that only one conversation's id has.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Sequence
from typing import Any

import click

import convo
from convo.cli.base import cli, db_option, errors, fail, one_line
from convo.cli.ids import full_id


@cli.command("ls")
@click.option("--limit", default=20, show_default=True, help="How many to list.")
@click.option("-q", "--query", help="Only conversations whose messages contain this text.")
@db_option
def ls(limit: int, query: str | None, db: str | None) -> None:
    """List saved conversations, most recently updated first."""
    from convo.store import peek

    # A SQLite file at the newest schema is read without SQLAlchemy (a third of a
    # second of imports); everything else opens the store.
    with errors(), contextlib.ExitStack() as stack:
        quick = None if query else peek(db, limit=limit)
        if quick is not None:
            found: Sequence[Any] = quick
        else:
            store = stack.enter_context(convo.SQLStore(db))
            found = store.list(limit=limit, text=query)
        if not found:
            empty = f"No conversations match {query!r}." if query else "No conversations yet."
            click.echo(empty, err=True)
        for c in found:
            when = c.updated_at.strftime("%Y-%m-%d %H:%M")
            model = c.model or "-"
            preview = one_line(c.preview)[:60]
            click.echo(f"{c.id}  {when}  {model:<20} {c.message_count:>4} msgs  {preview}")


@cli.command()
@click.argument("conversation_id", metavar="ID")
@db_option
def show(conversation_id: str, db: str | None) -> None:
    """Print a saved conversation, system prompt included."""
    with errors(), convo.SQLStore(db) as store:
        conv = convo.Conversation.load(full_id(store, conversation_id), store=store)
        click.echo(f"# {conv.id}  model {conv.model}  {len(conv.history)} messages")
        for m in conv.messages:
            label: str = m.role
            if m.tool_calls:
                label = "assistant (tool calls)"
            elif m.role == "tool" and m.name:
                label = f"tool ({m.name})"
            calls = ", ".join(
                f"{c.function.name}({c.function.arguments})" for c in m.tool_calls or ()
            )
            click.echo(f"\n[{label}]\n{m.text or calls}")


def _totals_line(label: str, t: Any) -> str:
    cost = "cost unknown" if t.cost is None else f"${t.cost:.6f}"
    if t.cost is not None and t.unpriced:
        cost += f" (+{t.unpriced} unpriced turns)"
    return (
        f"{label}  {t.prompt_tokens} prompt + {t.completion_tokens} completion = "
        f"{t.total_tokens} tokens  {cost}"
    )


@cli.command("usage")
@click.argument("conversation_id", metavar="[ID]", required=False)
@click.option("--limit", default=20, show_default=True, help="How many conversations to list.")
@db_option
def usage_(conversation_id: str | None, limit: int, db: str | None) -> None:
    """Tokens and cost (USD, where the price is known): of one conversation, or of the
    most recent ones and of all."""
    with errors(), convo.SQLStore(db) as store:
        if conversation_id is not None:
            cid = full_id(store, conversation_id)
            click.echo(_totals_line(cid, store.totals(cid)))
            return
        for c in store.list(limit=limit):
            click.echo(_totals_line(c.id, store.totals(c.id)))
        click.echo(_totals_line("all", store.totals()))


@cli.command("export")
@click.argument("conversation_id", metavar="ID")
@db_option
def export(conversation_id: str, db: str | None) -> None:
    """Write a conversation as JSON on stdout (`convo import` reads it back)."""
    with errors(), convo.SQLStore(db) as store:
        data = store.export(full_id(store, conversation_id))
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@cli.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--new-id", is_flag=True, help="Give the imported conversation a new id.")
@db_option
def import_(file: Any, new_id: bool, db: str | None) -> None:
    """Import a conversation exported as JSON (FILE, or - for stdin); prints its id."""
    with errors():
        try:
            data = json.load(file)
        except (ValueError, UnicodeDecodeError) as exc:
            raise convo.InputError(f"{file.name}: not a JSON export ({exc})") from None
        with convo.SQLStore(db) as store:
            click.echo(store.import_(data, new_id=new_id))


def _on_terminal() -> bool:
    return sys.stdin.isatty()


@cli.command("rm")
@click.argument("conversation_ids", metavar="ID...", nargs=-1, required=True)
@click.option("-y", "--yes", is_flag=True, help="Delete without asking.")
@db_option
def rm(conversation_ids: tuple[str, ...], yes: bool, db: str | None) -> None:
    """Delete saved conversations (forks of them keep their own copy of the history)."""
    with errors(), convo.SQLStore(db) as store:
        # Every id is checked before anything is deleted: a typo deletes nothing.
        ids = list(dict.fromkeys(full_id(store, given) for given in conversation_ids))
        if not yes:
            if not _on_terminal():
                fail("give --yes to delete without a terminal to confirm on")
            what = ids[0] if len(ids) == 1 else f"{len(ids)} conversations"
            click.confirm(f"Delete {what}?", abort=True, err=True)
        for cid in ids:
            store.delete(cid)
            click.echo(f"Deleted {cid}")
