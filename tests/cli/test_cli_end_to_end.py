"""The real ``convo`` command in subprocesses: HTTP, a third-party plugin, Ctrl-C, the local model.

Each test runs the installed console script with its own store (``CONVO_DB``) and
config dir; the Chat Completions server is :class:`~tests.support.ChatServer` on
127.0.0.1, the plugin is the fake one installed by pip into a directory put on
``PYTHONPATH``.
"""

from __future__ import annotations

import signal
import subprocess
import threading

from convo import SQLStore
from convo.cli import INTERRUPTED
from tests.cli.helpers import convo_cmd, run_convo
from tests.support import ChatServer, Events, require


def _default_sigint() -> None:
    """Runs in the child before exec: a suite started as a background job (``cmd &``)
    ignores SIGINT, an ignored signal stays ignored across exec, and these tests send it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _slow_words(n: int, delay: float) -> Events:
    chunks = [
        {
            "id": "chatcmpl-slow",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": {"content": f"w{i} "}, "finish_reason": None}],
        }
        for i in range(n)
    ]
    return Events(chunks, delay=delay)


class _Output:
    """Collects a pipe's text in a thread, so a test can wait for some of it."""

    def __init__(self, pipe: object) -> None:
        self.text = ""
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self._thread.start()

    def _read(self, pipe: object) -> None:
        while chunk := pipe.read1(1024):  # type: ignore[attr-defined]
            with self._changed:
                self.text += chunk.decode()
                self._changed.notify_all()

    def wait_for(self, needle: str, timeout: float = 30) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: needle in self.text, timeout)

    def join(self) -> str:
        self._thread.join(10)
        return self.text


def test_http_ask_and_usage(server: ChatServer, subprocess_env: dict[str, str]) -> None:
    env = {**subprocess_env, "OPENAI_BASE_URL": server.url}
    done = run_convo(env, "ask", "-m", "gpt-4o-mini", "--usage", "hi")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "echo: hi\n"
    assert done.stderr.startswith("[usage: prompt 1, completion 2, total 3 tokens;")
    body = server.requests[-1].json
    assert body["model"] == "gpt-4o-mini" and body["stream"] is True


def test_errors_are_one_line_in_a_real_process(
    server: ChatServer, subprocess_env: dict[str, str]
) -> None:
    env = {**subprocess_env, "OPENAI_BASE_URL": server.url}
    for args, code in [(["show", "nope"], 1), (["ask", "--var", "x", "hi"], 1), (["ls", "-x"], 2)]:
        done = run_convo(env, *args)
        assert done.returncode == code
        assert done.stderr.startswith("Error: ") and done.stderr.count("\n") == 1, done.stderr
        assert done.stdout == ""


def test_ctrl_c_mid_reply_stops_and_saves_nothing(
    server: ChatServer, subprocess_env: dict[str, str], db_url: str
) -> None:
    env = {**subprocess_env, "OPENAI_BASE_URL": server.url}
    assert run_convo(env, "ask", "-m", "gpt-4o-mini", "first").returncode == 0
    with SQLStore(db_url) as store:
        cid = store.latest()
        assert cid is not None
        before = store.export(cid)

    server.script(_slow_words(200, 0.05))
    with subprocess.Popen(
        [*convo_cmd(), "ask", "-c", "second"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        preexec_fn=_default_sigint,
    ) as proc:
        out = _Output(proc.stdout)
        try:
            assert out.wait_for("w2 "), "the reply never started streaming"
            proc.send_signal(signal.SIGINT)
            code = proc.wait(30)
        finally:
            proc.kill()
            proc.wait()
        stderr = proc.stderr.read().decode() if proc.stderr else ""
        printed = out.join()
    assert code == 130
    assert stderr.strip() == INTERRUPTED
    assert "Traceback" not in stderr
    assert "w199" not in printed
    assert server.wait_idle(), "the HTTP response was left open"
    with SQLStore(db_url) as store:
        assert store.export(cid) == before
        assert [s.id for s in store.list()] == [cid]


def test_ctrl_c_in_chat_drops_the_turn_and_returns_to_the_prompt(
    server: ChatServer, subprocess_env: dict[str, str], db_url: str
) -> None:
    pexpect = require("pexpect", "drives an interactive chat on a terminal")
    env = {**subprocess_env, "OPENAI_BASE_URL": server.url}
    server.script(_slow_words(200, 0.05))
    cmd = convo_cmd()
    child = pexpect.spawn(
        cmd[0],
        [*cmd[1:], "chat", "-m", "gpt-4o-mini"],
        env=env,
        timeout=30,
        preexec_fn=_default_sigint,
    )
    try:
        child.expect_exact("> ")
        child.sendline("slow one")
        child.expect_exact("w2 ")
        child.sendintr()
        child.expect_exact(INTERRUPTED)
        child.expect_exact("> ")
        child.sendline("fast one")
        child.expect_exact("echo: fast one")
        child.expect_exact("> ")
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    with SQLStore(db_url) as store:
        cid = store.latest()
        assert cid is not None
        texts = [m.text for m in store.load(cid).messages]
    assert texts == ["fast one", "echo: fast one"]


def test_third_party_plugin_from_the_command_line(plugin_env: dict[str, str]) -> None:
    listed = run_convo(plugin_env, "plugins")
    assert listed.returncode == 0
    assert "fake 1.2.3\n  hooks: register_commands, register_templates" in listed.stdout
    assert "  models: fake-echo\n  tools: shout\n  templates: fake-pirate\n" in listed.stdout
    assert "fake-broken 1.2.3\n  error: could not be loaded" in listed.stdout
    # The broken plugin is reported once on stderr, and does not stop the command.
    assert listed.stderr.startswith("WARNING: plugin 'fake-broken' could not be loaded")

    assert "fake-echo  (plugin fake; aliases: echo)" in run_convo(plugin_env, "models").stdout
    templates = run_convo(plugin_env, "templates").stdout
    assert "fake-pirate  (plugin fake; variables: name)" in templates

    tool = run_convo(plugin_env, "ask", "-m", "echo", "-T", "shout", "ahoy")
    assert tool.stdout == "fake-echo: the tool said AHOY!\n"
    pirate = run_convo(
        plugin_env, "ask", "-m", "fake-echo", "-t", "fake-pirate", "--var", "name=Ann", "hi"
    )
    assert pirate.stdout == "fake-echo: [You are a pirate named Ann. Answer in one line.] ih\n"
    command = run_convo(plugin_env, "fake-hello", "Ada")
    assert command.stdout == "hello Ada from the fake plugin\n"


def test_local_model_chat_is_saved_and_resumed(subprocess_env: dict[str, str], db_url: str) -> None:
    require("convo_llamacpp", "needs the convo-llamacpp plugin")
    short = ["-o", "max_tokens", "6", "-o", "temperature", "0"]
    first = run_convo(subprocess_env, "chat", "-m", "local", *short, input="Say hello.\n")
    assert first.returncode == 0, first.stderr
    assert "Chatting with qwen2.5-coder-0.5b" in first.stderr
    with SQLStore(db_url) as store:
        cid = store.latest()
        assert cid is not None
        turn_one = store.load(cid).messages
    assert [m.role for m in turn_one] == ["user", "assistant"]
    assert turn_one[1].text and turn_one[1].text in first.stdout

    second = run_convo(subprocess_env, "chat", "-c", *short, "--usage", input="Again.\n")
    assert second.returncode == 0, second.stderr
    assert f"(conversation {cid})" in second.stderr
    # The whole history was sent: the model was billed for more than the new message.
    assert "[usage: prompt " in second.stderr
    with SQLStore(db_url) as store:
        assert [s.id for s in store.list()] == [cid]
        stored = store.load(cid)
        turns = store.turns(cid)
    assert stored.messages[:2] == turn_one
    assert [m.text for m in stored.messages][2] == "Again."
    assert [m.role for m in stored.messages] == ["user", "assistant", "user", "assistant"]
    assert stored.header.model == "qwen2.5-coder-0.5b"
    assert turns[-1].usage is not None and turns[0].usage is not None
    # The second request carried the first turn: its prompt is longer by at least that much.
    assert (
        turns[-1].usage.prompt_tokens
        > turns[0].usage.prompt_tokens + turns[0].usage.completion_tokens
    )


def test_show_prints_what_chat_saved(plugin_env: dict[str, str], db_url: str) -> None:
    done = run_convo(plugin_env, "chat", "-m", "echo", input="one\ntwo\n")
    assert done.returncode == 0
    with SQLStore(db_url) as store:
        cid = store.latest()
    assert cid is not None
    shown = run_convo(plugin_env, "show", cid).stdout
    assert "[user]\none\n\n[assistant]\nfake-echo: eno\n\n[user]\ntwo" in shown
