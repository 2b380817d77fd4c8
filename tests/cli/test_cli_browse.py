"""Browsing what is saved: ``logs``, short id prefixes, ``rm``, ``path``, empty results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convo import Message, SQLStore
from convo.store.base import ConversationHeader, TurnMeta
from tests.cli.conftest import Convo


def _conv(store: SQLStore, cid: str, text: str = "hi") -> None:
    store.append_turn(
        cid,
        0,
        [Message.user(text), Message.assistant(f"re: {text}")],
        TurnMeta(model="m"),
        create=ConversationHeader(id=cid, model="m"),
    )


def test_logs_show_the_latest_turns_with_time_model_usage_and_latency(
    run: Convo, store: SQLStore
) -> None:
    run("ask", "-m", "echo", "first question")
    cid = store.latest()
    assert cid is not None
    run("ask", "-c", "second question")
    run("ask", "-m", "echo", "elsewhere")

    out = run("logs").stdout
    headers = [line for line in out.splitlines() if line.startswith("## ")]
    assert len(headers) == 3  # the default count
    assert headers[0].endswith(f"{cid}  turn 1") and headers[1].endswith(f"{cid}  turn 2")
    assert " UTC  " in headers[0]
    assert "> first question" in out and "fake-echo: noitseuq tsrif" in out
    # Newest last, as a terminal scrolls.
    assert out.index("> first question") < out.index("> elsewhere")
    facts = out.splitlines()[1]
    # The model the reply named, the tokens, how long the reply took.
    assert " prompt + " in facts and " completion = " in facts and facts.endswith(" ms")

    assert (
        len([ln for ln in run("logs", "-n", "1").stdout.splitlines() if ln.startswith("##")]) == 1
    )
    only = run("logs", cid[:6], "-n", "0").stdout
    assert "> elsewhere" not in only and only.count("## ") == 2

    turns = json.loads(run("logs", "--json", "-n", "0").stdout)
    assert [t["turn"] for t in turns] == [1, 2, 1]
    first = turns[0]
    assert first["conversation"] == cid and first["model"]
    assert first["latency_ms"] is not None and first["created_at"]
    assert [m["role"] for m in first["messages"]] == ["user", "assistant"]


def test_logs_search(run: Convo, store: SQLStore) -> None:
    run("ask", "-m", "echo", "the NEEDLE is here")
    run("ask", "-c", "nothing")
    run("ask", "-m", "echo", "other")
    out = run("logs", "-q", "needle", "-n", "0").stdout
    assert out.count("## ") == 1 and "> the NEEDLE is here" in out
    missing = run("logs", "-q", "absent")
    assert (missing.stdout, missing.stderr) == ("", "No turns match 'absent'.\n")
    assert json.loads(run("logs", "--json", "-q", "absent").stdout) == []


def test_logs_walk_past_a_page_of_conversations(run: Convo, store: SQLStore) -> None:
    for i in range(25):
        _conv(store, f"c{i:02d}", f"message {i}")
    turns = json.loads(run("logs", "--json", "-n", "0").stdout)
    assert len(turns) == 25
    assert [t["conversation"] for t in turns][-2:] == ["c23", "c24"]
    assert json.loads(run("logs", "--json", "-n", "2").stdout)[-1]["conversation"] == "c24"


def test_empty_results_say_so(run: Convo) -> None:
    for args, message in [
        (["logs"], "No conversations yet.\n"),
        (["ls"], "No conversations yet.\n"),
        (["ls", "-q", "x"], "No conversations match 'x'.\n"),
    ]:
        result = run(*args)
        assert (result.stdout, result.stderr) == ("", message)


def test_short_ids_everywhere(run: Convo, store: SQLStore) -> None:
    _conv(store, "4f1c2a9e")
    _conv(store, "4f9b0711")
    assert run("show", "4f1").stdout.startswith("# 4f1c2a9e  model m")
    assert json.loads(run("export", "4f9").stdout)["header"]["id"] == "4f9b0711"
    assert run("usage", "4f1").stdout.startswith("4f1c2a9e  ")
    run("ask", "--cid", "4f9", "-m", "echo", "more")
    assert len(store.load("4f9b0711").messages) == 4

    for command in (["show", "4f"], ["export", "4f"], ["rm", "--yes", "4f"], ["logs", "4f"]):
        result = run(*command, code=1)
        assert result.stderr == (
            "Error: the id prefix '4f' matches several conversations: 4f1c2a9e, 4f9b0711\n"
        )
    assert run("show", "zz", code=1).stderr == "Error: no conversation with id 'zz'\n"


def test_rm_deletes_after_confirming(run: Convo, store: SQLStore) -> None:
    _conv(store, "aaa1")
    _conv(store, "bbb2")
    # No terminal to ask on (the runner's stdin is not one): --yes is needed.
    refused = run("rm", "aaa", code=1)
    assert refused.stderr == "Error: give --yes to delete without a terminal to confirm on\n"
    assert run("rm", "--yes", "aaa").stdout == "Deleted aaa1\n"
    assert [c.id for c in store.list()] == ["bbb2"]
    assert run("rm", "-y", "aaa", code=1).stderr == "Error: no conversation with id 'aaa'\n"
    # A typo among several ids deletes none.
    run("rm", "-y", "bbb2", "nope", code=1)
    assert [c.id for c in store.list()] == ["bbb2"]


def test_rm_asks_on_a_terminal(
    run: Convo, store: SQLStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _conv(store, "aaa1")
    monkeypatch.setattr("convo.cli.saved._on_terminal", lambda: True)
    kept = run("rm", "aaa1", input="n\n", code=1)
    assert "Delete aaa1? [y/N]" in kept.stderr and kept.stderr.endswith("Aborted.\n")
    assert store.ids("aaa") == ["aaa1"]
    assert run("rm", "aaa1", input="y\n").stdout == "Deleted aaa1\n"
    assert store.ids("aaa") == []


def test_path_prints_the_store_and_the_settings(run: Convo, isolated: str, tmp_path: Path) -> None:
    db_file = tmp_path / "convo.db"
    config = tmp_path / "config"
    lines = run("path").stdout.splitlines()
    with SQLStore(isolated) as store:
        url = store.url  # with the driver SQLAlchemy uses: sqlite+pysqlite:///...
    assert lines == [
        f"database:      {url}",
        f"database file: {db_file}",
        f"config dir:    {config}",
        f"models.json:   {config / 'models.json'}  (not created yet)",
    ]
    assert run("path", "db").stdout == f"{db_file}\n"
    assert run("path", "config").stdout == f"{config}\n"
    assert run("path", "models").stdout == f"{config / 'models.json'}\n"
    other = tmp_path / "other.db"
    assert run("path", "db", "--db", f"sqlite:///{other}").stdout == f"{other}\n"
    shown = run("path", "db", "--db", "postgresql://ann:s3cret@db.example/convo").stdout
    assert "s3cret" not in shown and "ann:***@db.example/convo" in shown


@pytest.mark.parametrize("command", ["ls", "logs", "path", "rm"])
def test_a_bad_store_url_is_one_line(run: Convo, command: str) -> None:
    args = [command, "--db", "not a url :pw@"] + (["-y", "x"] if command == "rm" else [])
    result = run(*args, code=1)
    assert result.stderr.startswith("Error: the store URL is not a database URL")
    assert len(result.stderr.splitlines()) == 1 and "pw" not in result.stderr


def test_a_driver_that_cannot_be_loaded_is_one_line(run: Convo) -> None:
    result = run("ls", "--db", "postgresql+nosuchdriver://ann@127.0.0.1/convo", code=1)
    assert result.stderr == (
        "Error: the database driver 'postgresql+nosuchdriver' cannot be loaded; is it "
        "installed? (for the default one: pip install 'convo[postgres]')\n"
    )
