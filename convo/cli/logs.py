"""``convo logs``: the latest turns, each with its time, model, tokens and latency.

The turns of every conversation are read from the store's export of it (messages and
turn metadata together); conversations are visited most recently updated first, and
the walk stops once no older conversation can hold a turn newer than those found.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import click

import convo
from convo.cli.base import cli, db_option, errors
from convo.cli.ids import full_id

_PAGE = 20
_OLDEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class _Turn:
    conversation: str
    number: int  # 1 for the conversation's first turn
    meta: dict[str, Any]  # the export's turn: model, usage, latency_ms, created_at, ...
    messages: list[dict[str, Any]]  # the turn's messages, in the API's shape

    @property
    def when(self) -> datetime:
        raw = self.meta.get("created_at")
        return datetime.fromisoformat(raw) if raw else _OLDEST

    def as_json(self) -> dict[str, Any]:
        return {
            "conversation": self.conversation,
            "turn": self.number,
            **self.meta,
            "messages": self.messages,
        }


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _turns(store: convo.SQLStore, cid: str, text: str | None) -> list[_Turn]:
    data = store.export(cid)
    messages = data["messages"]
    out = []
    for number, turn in enumerate(data["turns"], 1):
        first, n = turn["first_seq"], turn["n_messages"]
        meta = {k: v for k, v in turn.items() if k not in ("first_seq", "n_messages")}
        own = messages[first : first + n]
        if text and not any(text.lower() in _text(m).lower() for m in own):
            continue
        out.append(_Turn(cid, number, meta, own))
    return out


def _latest(store: convo.SQLStore, limit: int, text: str | None) -> list[_Turn]:
    found: list[_Turn] = []
    before = None
    while True:
        page = store.list(limit=_PAGE, text=text, before=before)
        for summary in page:
            # Every turn of this and later conversations is older than its updated_at.
            if limit and len(found) >= limit and summary.updated_at < found[limit - 1].when:
                return found[:limit]
            found.extend(_turns(store, summary.id, text))
            found.sort(key=lambda t: t.when, reverse=True)
        if len(page) < _PAGE:
            return found[:limit] if limit else found
        before = (page[-1].updated_at, page[-1].id)


def _usage(meta: dict[str, Any]) -> str:
    usage = meta.get("usage")
    if not usage:
        return "usage not reported"
    return (
        f"{usage.get('prompt_tokens', 0)} prompt + {usage.get('completion_tokens', 0)} "
        f"completion = {usage.get('total_tokens', 0)} tokens"
    )


def _lines(turn: _Turn) -> Iterator[str]:
    meta = turn.meta
    when = turn.when.strftime("%Y-%m-%d %H:%M:%S UTC") if turn.when > _OLDEST else "-"
    latency = meta.get("latency_ms")
    facts = [meta.get("model") or "-", _usage(meta)]
    if latency is not None:
        facts.append(f"{latency:.0f} ms")
    if meta.get("cost") is not None:
        facts.append(f"${meta['cost']:.6f}")
    yield f"## {when}  {turn.conversation}  turn {turn.number}"
    yield "  ".join(facts)
    for m in turn.messages:
        role, text = m.get("role"), _text(m)
        calls = ", ".join(
            f"{c['function']['name']}({c['function']['arguments']})"
            for c in m.get("tool_calls") or ()
        )
        if role == "user":
            yield ""
            yield from (f"> {line}" for line in text.splitlines() or [""])
        elif calls:
            yield ""
            yield f"[tool calls: {calls}]"
        elif role == "tool":
            yield ""
            yield f"[tool {m.get('name') or ''}-> {text}]"
        else:
            yield ""
            yield text
    yield ""


@cli.command()
@click.argument("conversation_id", metavar="[ID]", required=False)
@click.option(
    "-n",
    "--count",
    "count",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="How many turns (0: all).",
)
@click.option(
    "-q",
    "--search",
    "search",
    metavar="TEXT",
    help="Only turns with this text in a message (case-insensitive).",
)
@click.option("--json", "as_json", is_flag=True, help="JSON: a list of turns, oldest first.")
@db_option
def logs(
    conversation_id: str | None, count: int, search: str | None, as_json: bool, db: str | None
) -> None:
    """The latest turns, oldest first: time, model, tokens, latency, and the messages.

    ID (or a prefix only it has) limits them to one conversation.
    """
    with errors(), convo.SQLStore(db) as store:
        if conversation_id is not None:
            turns = _turns(store, full_id(store, conversation_id), search)
            turns = turns[-count:] if count else turns
        else:
            turns = _latest(store, count, search)[::-1]
        if as_json:
            click.echo(json.dumps([t.as_json() for t in turns], ensure_ascii=False, indent=2))
        elif not turns:
            if search:
                click.echo(f"No turns match {search!r}.", err=True)
            elif conversation_id is not None:
                click.echo("No turns in that conversation.", err=True)
            else:
                click.echo("No conversations yet.", err=True)
        else:
            for turn in turns:
                for line in _lines(turn):
                    click.echo(line)
