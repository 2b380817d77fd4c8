"""MCP toolsets against a real MCP server (the official SDK's MCPServer), over a stdio
subprocess and over streamable HTTP on 127.0.0.1: one session per toolset, every
failure a clear tool message or a clear error at start, never a hang, no orphan."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import require

require("mcp", "needs the official MCP SDK (convo[mcp])")

import httpx2

import convo
import convo.mcp
from convo import AsyncConversation, Conversation, McpError, OpenAITransport
from tests.support import Answer, ChatServer

SERVER = str(Path(__file__).parent.parent / "support" / "mcp_server.py")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _pids(log: Path) -> list[int]:
    return [int(line) for line in log.read_text().split()] if log.exists() else []


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # The SDK passes only a minimal environment on: the log path is given as env=.
    return tmp_path / "starts.log"


def _stdio(log: Path, **options: Any) -> convo.mcp.McpToolset:
    return convo.mcp.stdio(sys.executable, [SERVER, "stdio"], env={"MCP_TEST_LOG": str(log)},
                           **options)  # fmt: skip


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, SERVER, "http", str(port)])
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx2.get(f"{base}/stats", timeout=1)
                break
            except httpx2.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the MCP test server did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def _sessions(base: str) -> list[str]:
    sessions: list[str] = httpx2.get(f"{base}/stats", timeout=5).json()["sessions"]
    return sessions


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    with ChatServer() as s:
        yield s


def _tool_texts(conv: Any) -> list[str]:
    return [m.text for m in conv.messages if m.role == "tool"]


# -- listing, calls, sessions --------------------------------------------------------


def test_stdio_tools_are_listed_once_and_used_by_a_conversation(
    log: Path, chat: ChatServer
) -> None:
    chat.script(
        Answer(tool_calls=[("add", {"a": 2, "b": 3}), ("echo", {"text": "hi"})]),
        Answer(tool_calls=[("fail", {"reason": "broken"})]),
        Answer("done"),
    )
    with _stdio(log) as tools, OpenAITransport(chat.url, api_key="sk-test") as transport:
        assert tools.names() == ("add", "echo", "fail", "slow", "crash", "pay")
        add, pay = tools.get("add"), tools.get("pay")
        assert add is not None and add.parameters["required"] == ["a", "b"]
        # MCP's hints: neither read-only nor idempotent means a repeat needs approval
        assert add.idempotent and pay is not None and not pay.idempotent
        conv = Conversation(model="gpt-4o-mini", transport=transport, tools=[tools])
        assert conv.send("go").text == "done"
        sent = chat.requests[0].json["tools"]
        assert [t["function"]["name"] for t in sent] == list(tools.names())
        assert _tool_texts(conv) == ["5", "hi", "Error executing tool fail"]
        (pid,) = _pids(log)  # one process, so one session, for every call
        assert _alive(pid)
    assert not _alive(pid)  # closed with the toolset: no orphan


async def test_http_toolset_has_one_session_for_sync_and_async_conversations(
    http_server: str, chat: ChatServer
) -> None:
    before = set(_sessions(http_server))
    chat.script(
        Answer(tool_calls=[("calc_add", {"a": 1, "b": 1})]),
        Answer("two"),
        Answer(tool_calls=[("calc_add", {"a": 2, "b": 2}), ("calc_echo", {"text": "x"})]),
        Answer("four"),
    )
    async with convo.mcp.http(f"{http_server}/mcp", prefix="calc") as tools:
        assert tools.names() == (
            "calc_add", "calc_echo", "calc_fail", "calc_slow", "calc_crash", "calc_pay",
        )  # fmt: skip
        transport = OpenAITransport(chat.url, api_key="sk-test")
        try:
            sync = Conversation(model="gpt-4o-mini", transport=transport, tools=tools)
            assert (await asyncio.to_thread(sync.send, "1+1")).text == "two"
            conv = AsyncConversation(model="gpt-4o-mini", transport=transport, tools=[tools])
            assert (await conv.send("2+2")).text == "four"
        finally:
            transport.close()
            await transport.aclose()
        assert _tool_texts(sync) == ["2"] and _tool_texts(conv) == ["4", "x"]
    assert len(set(_sessions(http_server)) - before) == 1


def test_headers_stay_out_of_reprs_and_errors(http_server: str) -> None:
    tools = convo.mcp.http(f"{http_server}/mcp", headers={"Authorization": "Bearer sk-secret"})
    with tools:
        assert "sk-secret" not in repr(tools)
    assert "sk-secret" not in repr(tools)


# -- failures ------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["sync", "async"])
async def test_the_conversations_tool_timeout_bounds_a_call_and_the_session_goes_on(
    log: Path, api: str
) -> None:
    fake = convo.ScriptedTransport(
        convo.transports.testing.tool_calls(("slow", {"seconds": 30})),
        convo.transports.testing.tool_calls(("add", {"a": 1, "b": 2})),
        "ok",
    )
    with _stdio(log) as tools:
        if api == "sync":
            conv: Any = Conversation(
                model="gpt-4o-mini", transport=fake, tools=tools, tool_timeout=0.5
            )
            conv.send("go")
        else:
            conv = AsyncConversation(
                model="gpt-4o-mini", transport=fake, tools=tools, tool_timeout=0.5
            )
            await conv.send("go")
        slow, add = _tool_texts(conv)
        assert slow == "Error: the tool slow did not finish within 0.5 seconds; it was cancelled"
        assert add == "3"
        assert len(_pids(log)) == 1


def test_a_server_that_crashes_mid_call_gives_a_clear_answer(log: Path) -> None:
    fake = convo.ScriptedTransport(
        convo.transports.testing.tool_calls(("crash", {})),
        convo.transports.testing.tool_calls(("add", {"a": 1, "b": 2})),
        "sorry",
    )
    with _stdio(log) as tools:
        conv = Conversation(model="gpt-4o-mini", transport=fake, tools=tools, tool_timeout=30)
        assert conv.send("go").text == "sorry"
        crashed, after = _tool_texts(conv)
        assert "closed the connection during the call (it may have crashed)" in crashed
        assert "is no longer connected" in after
        (pid,) = _pids(log)
    assert not _alive(pid)


def test_a_missing_command_is_a_clear_error_at_start() -> None:
    with pytest.raises(McpError, match="could not be started: FileNotFoundError"):
        convo.mcp.stdio("/no/such/mcp-server").start()


def test_a_server_that_exits_at_start_quotes_its_stderr() -> None:
    code = "import sys; print('missing API token', file=sys.stderr); sys.exit(2)"
    with pytest.raises(McpError, match="missing API token"):
        convo.mcp.stdio(sys.executable, ["-c", code]).start()


def test_a_server_that_never_answers_is_bounded_at_start() -> None:
    code = "import time; time.sleep(600)"
    with pytest.raises(McpError, match="did not answer within 1 seconds at start"):
        convo.mcp.stdio(sys.executable, ["-c", code], start_timeout=1).start()


def test_an_http_server_that_is_not_there_is_a_clear_error_at_start() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(McpError, match="could not be started"):
        convo.mcp.http(f"http://127.0.0.1:{port}/mcp", start_timeout=10).start()


def test_a_toolset_that_was_not_started_says_so() -> None:
    conv = Conversation(
        model="gpt-4o-mini", transport=convo.ScriptedTransport("x"), tools=_stdio(Path("x"))
    )
    with pytest.raises(McpError, match="is not started"):
        conv.send("hi")


def test_calls_after_close_are_answered_not_run(log: Path) -> None:
    tools = _stdio(log)
    with tools:
        pass
    fake = convo.ScriptedTransport(convo.transports.testing.tool_calls(("add", {"a": 1})), "x")
    conv = Conversation(model="gpt-4o-mini", transport=fake, tools=tools)
    conv.send("go")
    assert "is closed" in _tool_texts(conv)[0]


# -- prompts -------------------------------------------------------------------------


def test_prompts_are_templates_and_server_renderings(log: Path) -> None:
    with _stdio(log, prefix="t") as tools:
        template = tools.templates.get("t_review")
        (message,) = template.render_messages(code="x = {{ 1 }}", language="Python")
        assert message.role == "user"
        assert message.text == "Review this Python code and list its bugs:\nx = {{ 1 }}"
        (served,) = tools.prompt("review", code="y", language="Go")
        assert served.text == "Review this Go code and list its bugs:\ny"


# -- the local model -----------------------------------------------------------------


def test_the_local_model_calls_an_mcp_tool(log: Path) -> None:
    require("llama_cpp", "needs llama-cpp-python")
    require("convo_llamacpp", "needs the convo-llamacpp plugin")
    with _stdio(log) as tools:
        conv = Conversation(
            model="local", tools=tools, tool_timeout=30, max_tool_rounds=1,
            on_max_tool_rounds="answer",
        )  # fmt: skip
        forced = {"type": "function", "function": {"name": "add"}}
        reply = conv.send(
            "What is 2 plus 3? Use the add tool.",
            tool_choice=forced,
            temperature=0,
            max_tokens=48,
            seed=1,
        )
        assert reply.text is not None
        (call,) = conv.messages[1].tool_calls or ()
        assert call.function.name == "add"
        answer = conv.messages[2]
        assert answer.role == "tool" and answer.tool_call_id == call.id
        assert not answer.text.startswith("Error: the tool")  # the server answered it
        json.loads(call.function.arguments)
        assert len(_pids(log)) == 1


# -- the example ---------------------------------------------------------------------


def test_the_example_runs(chat: ChatServer, tmp_path: Path) -> None:
    example = Path(__file__).parent.parent.parent / "examples" / "mcp" / "agent.py"
    env = {
        **os.environ,
        "OPENAI_BASE_URL": chat.url,
        "OPENAI_API_KEY": "sk-test",
        "CONVO_CONFIG_DIR": str(tmp_path),
    }
    chat.script(Answer(tool_calls=[("search_notes", {"word": "oslo"})]), Answer("Book the hotel."))
    done = subprocess.run(
        [sys.executable, str(example), "Oslo?"], env=env, capture_output=True, text=True,
        timeout=120, check=True,
    )  # fmt: skip
    assert done.stdout.splitlines() == [
        "tools: add_note, search_notes; prompts: summarize",
        "  [tool] search_notes({'word': 'oslo'}) -> Call Ada about the Oslo trip",
        "Oslo: book the hotel",
        "Book the hotel.",
    ]


def test_a_toolset_left_open_is_closed_at_exit(log: Path) -> None:
    # A script that forgets close(): the server process still ends with it.
    script = (
        "import sys, convo.mcp\n"
        f"tools = convo.mcp.stdio(sys.executable, [{SERVER!r}, 'stdio'],"
        f" env={{'MCP_TEST_LOG': {str(log)!r}}}).start()\n"
        "print(tools.names())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=True)  # fmt: skip
    assert "'add'" in done.stdout
    (pid,) = _pids(log)
    assert not _alive(pid)
