"""Every ``convo`` command, in-process through click's runner, on the installed fake plugin.

The fake plugin's model ``fake-echo`` (alias ``echo``) answers ``"<model>: <reversed
last message>"``, shows a system prompt in brackets, and calls ``shout`` when it is
offered, so each reply proves what the CLI sent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convo import SQLStore
from tests.cli.conftest import Convo
from tests.cli.helpers import closed_port
from tests.support import ChatServer


def _messages(store: SQLStore, cid: str) -> list[tuple[str, str]]:
    return [(m.role, m.text) for m in store.load(cid).messages]


def test_ask_streams_the_reply_and_saves_the_turn(run: Convo, store: SQLStore) -> None:
    result = run("ask", "-m", "echo", "hello")
    assert result.stdout == "fake-echo: olleh\n"
    cid = store.latest()
    assert cid is not None
    assert _messages(store, cid) == [("user", "hello"), ("assistant", "fake-echo: olleh")]
    assert store.header(cid).model == "fake-echo"


def test_ask_sends_piped_stdin_before_the_prompt(run: Convo, store: SQLStore) -> None:
    result = run("ask", "-m", "echo", "abc", input="xyz\n")
    assert result.stdout == "fake-echo: cba\n\nzyx\n"
    cid = store.latest()
    assert cid is not None
    assert _messages(store, cid)[0] == ("user", "xyz\n\nabc")


def test_ask_with_only_piped_stdin(run: Convo) -> None:
    assert run("ask", "-m", "echo", input="piped").stdout == "fake-echo: depip\n"


def test_the_default_model_comes_from_convo_model(
    run: Convo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVO_MODEL", "echo")
    assert run("ask", "hi").stdout == "fake-echo: ih\n"


def test_ask_continue_and_cid_extend_the_right_conversation(run: Convo, store: SQLStore) -> None:
    run("ask", "-m", "echo", "one")
    first = store.latest()
    run("ask", "-m", "echo", "two")
    second = store.latest()
    assert first is not None and second is not None and first != second

    run("ask", "-c", "three")  # the latest: the second
    assert [t for _, t in _messages(store, second)][-2:] == ["three", "fake-echo: eerht"]
    run("ask", "--cid", first, "four")
    assert [t for _, t in _messages(store, first)] == [
        "one",
        "fake-echo: eno",
        "four",
        "fake-echo: ruof",
    ]
    assert len(store.list()) == 2


def test_model_can_change_when_continuing(run: Convo, store: SQLStore) -> None:
    run("ask", "-m", "echo", "one")
    assert run("ask", "-c", "-m", "fake:other", "two").stdout == "fake:other: owt\n"
    cid = store.latest()
    assert cid is not None
    assert [t for _, t in _messages(store, cid)] == [
        "one",
        "fake-echo: eno",
        "two",
        "fake:other: owt",
    ]


def test_system_prompt_reaches_the_model_and_is_stored(run: Convo, store: SQLStore) -> None:
    result = run("ask", "-m", "echo", "--system", "Be brief.", "hi")
    assert result.stdout == "fake-echo: [Be brief.] ih\n"
    cid = store.latest()
    assert cid is not None
    assert store.header(cid).system == "Be brief."
    shown = run("show", cid).stdout
    assert "[system]\nBe brief." in shown


def test_plugin_template_with_variables(run: Convo, store: SQLStore) -> None:
    result = run("ask", "-m", "echo", "--template", "fake-pirate", "--var", "name=Ann", "ahoy")
    assert result.stdout == "fake-echo: [You are a pirate named Ann. Answer in one line.] yoha\n"
    cid = store.latest()
    assert cid is not None
    header = store.header(cid)
    assert (header.template_name, header.variables) == ("fake-pirate", {"name": "Ann"})


def test_template_file_gives_system_prompt_model_and_parameters(
    run: Convo, tmp_path: Path, server: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    path = tmp_path / "reviewer.prompty"
    path.write_text(
        "---\nname: reviewer\nmodel: gpt-4o-mini\nparameters:\n  temperature: 0.1\n---\n"
        "system:\nYou review {{ language }} code.\n",
        encoding="utf-8",
    )
    result = run("ask", "-t", str(path), "--var", "language=Go", "look")
    assert result.stdout == "echo: look\n"
    body = server.requests[-1].json
    assert body["model"] == "gpt-4o-mini"
    assert body["temperature"] == 0.1
    assert body["messages"][0] == {"role": "system", "content": "You review Go code."}


def test_plugin_tool_is_offered_and_run(run: Convo, store: SQLStore) -> None:
    result = run("ask", "-m", "echo", "-T", "shout", "hey")
    assert result.stdout == "fake-echo: the tool said HEY!\n"
    assert '[tool shout({"text": "hey"}) -> HEY!]' in result.stderr
    cid = store.latest()
    assert cid is not None
    assert [r for r, _ in _messages(store, cid)] == ["user", "assistant", "tool", "assistant"]
    assert "assistant (tool calls)" in run("show", cid).stdout


def test_options_are_sent_as_typed_request_parameters(
    run: Convo, server: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    args = ["-o", "max_tokens", "2", "-o", "temperature", "0.2", "-o", "user", "ada"]
    result = run("ask", "-m", "gpt-4o-mini", *args, "one two three")
    assert result.stdout == "echo: one\n"  # two words: max_tokens counted in words
    body = server.requests[-1].json
    assert (body["max_tokens"], body["temperature"], body["user"]) == (2, 0.2, "ada")


def test_usage_over_http(run: Convo, server: ChatServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    result = run("ask", "-m", "gpt-4o-mini", "--usage", "hi there")
    assert result.stdout == "echo: hi there\n"
    # The server counts words: 2 in the prompt, 3 in the reply.
    assert "[usage: prompt 2, completion 3, total 5 tokens;" in result.stderr
    assert server.requests[-1].json["stream"] is True


def test_chat_streams_each_reply_and_continues(run: Convo, store: SQLStore) -> None:
    result = run("chat", "-m", "echo", "--usage", input="hello\n\nagain\n")
    assert "fake-echo: olleh\n" in result.stdout
    assert "fake-echo: niaga\n" in result.stdout
    assert result.stderr.count("[usage: prompt") == 2
    cid = store.latest()
    assert cid is not None
    assert len(_messages(store, cid)) == 4

    resumed = run("chat", "-c", input="more\nexit\nnot sent\n")
    assert "fake-echo: erom" in resumed.stdout
    assert f"(conversation {cid})" in resumed.stderr
    assert [t for _, t in _messages(store, cid)][-2:] == ["more", "fake-echo: erom"]
    assert len(store.list()) == 1


def test_chat_with_cid_template_and_tool(run: Convo, store: SQLStore) -> None:
    run("ask", "-m", "echo", "first")
    first = store.latest()
    run("ask", "-m", "echo", "second")
    assert first is not None
    result = run("chat", "--cid", first, "-T", "shout", input="yo\n")
    assert "fake-echo: the tool said YO!" in result.stdout
    assert len(_messages(store, first)) == 6

    pirate = run("chat", "-m", "echo", "-t", "fake-pirate", "--var", "name=Bo", input="x\n")
    assert "[You are a pirate named Bo. Answer in one line.]" in pirate.stdout


def test_no_save_stores_nothing(run: Convo, store: SQLStore) -> None:
    assert run("ask", "-n", "-m", "echo", "hi").stdout == "fake-echo: ih\n"
    assert store.list() == []


def test_ls_show_export_import(run: Convo, store: SQLStore, tmp_path: Path) -> None:
    run("ask", "-m", "echo", "--system", "Sys.", "find the needle")
    run("ask", "-m", "echo", "other")
    cid = store.list()[1].id

    listing = run("ls").stdout.splitlines()
    assert len(listing) == 2
    assert listing[1].startswith(cid) and "fake-echo" in listing[1] and "2 msgs" in listing[1]
    assert run("ls", "-q", "needle").stdout.split()[0] == cid
    assert len(run("ls", "--limit", "1").stdout.splitlines()) == 1

    shown = run("show", cid).stdout
    assert shown.splitlines()[0] == f"# {cid}  model fake-echo  2 messages"
    assert "[user]\nfind the needle" in shown and "[assistant]\nfake-echo: [Sys.] eldeen" in shown

    exported = run("export", cid).stdout
    data = json.loads(exported)
    assert data["header"]["id"] == cid
    path = tmp_path / "export.json"
    path.write_text(exported, encoding="utf-8")

    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert run("import", str(path), "--db", other).stdout.strip() == cid
    with SQLStore(other) as copy:
        assert copy.export(cid)["messages"] == data["messages"]
    new = run("import", "--new-id", str(path)).stdout.strip()
    assert new != cid
    assert _messages(store, new) == _messages(store, cid)
    assert run("import", "-", "--db", f"sqlite:///{tmp_path / 'third.db'}", input=exported).stdout


def test_plugins_models_templates_list_the_third_party_plugin(run: Convo) -> None:
    listed = run("plugins").stdout
    fake = listed[listed.index("fake 1.2.3") :]
    assert "  models: fake-echo\n" in fake
    assert "  tools: shout\n" in fake
    assert "  templates: fake-pirate\n" in fake
    assert "fake-broken 1.2.3\n  error: could not be loaded" in listed
    assert "convo_fake_plugin_missing_dependency" in listed
    assert listed.startswith("openai ")

    assert "fake-echo  (plugin fake; aliases: echo)" in run("models").stdout.splitlines()
    assert run("templates").stdout == "fake-pirate  (plugin fake; variables: name)\n"


def test_models_shows_user_aliases_and_default(run: Convo, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "models.json").write_text(
        json.dumps({"default": "fast", "aliases": {"fast": "fake:quick"}}), encoding="utf-8"
    )
    lines = run("models").stdout.splitlines()
    assert "fake:quick  (plugin fake; aliases: fast; default)" in lines
    assert run("ask", "hi").stdout == "fake:quick: ih\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "nope"], "Error: no conversation with id 'nope'"),
        (["export", "nope"], "Error: no conversation with id 'nope'"),
        (["ask", "--cid", "nope", "hi"], "Error: no conversation with id 'nope'"),
        (["ask", "-c", "hi"], "Error: there is no saved conversation to continue"),
        (["ask", "-t", "fake-pirate", "--var", "name", "hi"], "Error: --var expects KEY=VALUE"),
        (
            ["ask", "-t", "fake-pirate", "hi"],
            "Error: template 'fake-pirate', line 1: 'name' is undefined",
        ),
        (["ask", "-t", "no-such-template", "hi"], "Error: no template named 'no-such-template'"),
        (["ask", "-m", "echo", "-T", "nope", "hi"], "Error: no plugin tool named 'nope'"),
        (["ask", "-m", "echo"], "Error: nothing to ask"),
        (["ask", "-s", "a", "-t", "fake-pirate", "hi"], "Error: give --system or --template"),
        (["ask", "-m", "echo", "-o", "temperature", "7", "hi"], "Error: temperature must be"),
        # click's usage errors: exit status 2, one line too
        (["ask", "--nope"], "Error: No such option '--nope'"),
        (["import", "/no/such/file.json"], "Error: Invalid value for 'FILE'"),
        (["frobnicate"], "Error: No such command 'frobnicate'"),
    ],
)
def test_errors_are_one_line_with_a_nonzero_exit(run: Convo, args: list[str], message: str) -> None:
    usage = "No such" in message or "Invalid value" in message
    result = run(*args, code=2 if usage else 1)
    assert result.stdout == ""
    assert result.stderr.startswith(message), result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "Error: "),
        ("[1, 2]", "Error: import: expected an object, got list"),
        ('{"format": "other"}', "Error: import: not a convo.conversation version 1 export"),
        (
            '{"format": "convo.conversation", "format_version": 1, "header": {"x": 1}}',
            "Error: import: invalid header",
        ),
    ],
)
def test_an_invalid_import_file_is_one_line(
    run: Convo, store: SQLStore, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    result = run("import", str(path), code=1)
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1
    assert store.list() == []


def test_continuing_refuses_a_new_system_prompt(run: Convo) -> None:
    run("ask", "-m", "echo", "hi")
    result = run("ask", "-c", "--system", "x", "again", code=1)
    assert result.stderr.startswith("Error: --system, --template and --var set up a new")


def test_an_unreachable_model_is_one_line(run: Convo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{closed_port()}/v1")
    result = run("ask", "-m", "some-unknown-model", "hi", code=1)
    assert result.stderr.startswith("Error: POST http://127.0.0.1:")
    assert "Connection refused" in result.stderr
    assert result.stderr.count("\n") == 1


def test_an_unknown_model_without_a_base_url_is_one_line(run: Convo) -> None:
    # Refused before any request: no DNS failure against api.openai.com, no traceback.
    result = run("ask", "-m", "gtp-4o-mini", "hi", code=1)
    assert result.stderr.startswith("Error: unknown model 'gtp-4o-mini' (given as the model)")
    assert "convo models" in result.stderr
    assert result.stderr.count("\n") == 1


def test_usage_shows_tokens_and_cost_per_conversation_and_overall(
    run: Convo, store: SQLStore
) -> None:
    from convo import Conversation, Reply, ScriptedTransport, Usage
    from convo.messages import Message
    from convo.reply import Choice

    run("ask", "-m", "echo", "hello")  # a local model: its price is unknown
    local = store.latest()
    usage = Usage(prompt_tokens=1000, completion_tokens=100, total_tokens=1100)
    reply = Reply(
        choices=(Choice(message=Message.assistant("hi"), finish_reason="stop"),), usage=usage
    )
    priced = Conversation(model="gpt-4o-mini", transport=ScriptedTransport(reply), store=store)
    priced.send("hi")
    one = run("usage", priced.id).stdout
    assert one == f"{priced.id}  1000 prompt + 100 completion = 1100 tokens  $0.000210\n"
    lines = run("usage").stdout.splitlines()
    assert lines[0].startswith(priced.id)
    assert lines[1].startswith(f"{local}  ") and lines[1].endswith("cost unknown")
    assert lines[2].startswith("all  1") and lines[2].endswith("$0.000210 (+1 unpriced turns)")
