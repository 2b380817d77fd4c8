"""The pytest plugin, used from a test project in a subprocess: record against a real
server with ``--convo-record``, then replay with the server stopped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.support import ChatServer

ROOT = Path(__file__).parent.parent.parent

PROJECT_TEST = """
import os

import pytest

import convo
from convo.transports.openai import OpenAITransport


def test_greeting(convo_cassette):
    tape = convo_cassette(OpenAITransport(os.environ["CHAT_URL"], api_key="sk-x", max_retries=0))
    conv = convo.Conversation(model="gpt-4o-mini", transport=tape)
    assert conv.send("Hello").text == "echo: Hello"
    assert [d for d in conv.stream("More")] == ["echo: ", "More"]


@pytest.mark.parametrize("word", ["a", "b c"])
def test_two_tapes(convo_cassette, word):
    url = os.environ["CHAT_URL"]
    one = convo_cassette(OpenAITransport(url, api_key="sk-x", max_retries=0), strict=True)
    two = convo_cassette(OpenAITransport(url, api_key="sk-x", max_retries=0))
    assert convo.Conversation(model="m", transport=one).send(word).text == f"echo: {word}"
    assert convo.Conversation(model="m", transport=two).send(word).text == f"echo: {word}"
"""


def _entry_point_dist(where: Path) -> Path:
    # The pytest11 entry point exactly as pyproject.toml declares it, installed as a
    # distribution's metadata on the subprocess's path (the editable install of the
    # package may predate it).
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())
    points = declared["project"]["entry-points"]["pytest11"]
    dist = where / "convo_plugin_probe-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: convo-plugin-probe\nVersion: 0\n")
    lines = "".join(f"{name} = {value}\n" for name, value in points.items())
    (dist / "entry_points.txt").write_text(f"[pytest11]\n{lines}")
    return where


def _pytest(project: Path, site: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", ""), str(ROOT)])
    env["CHAT_URL"] = url
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_plugin_records_then_replays_offline(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_bot.py").write_text(PROJECT_TEST)
    site = _entry_point_dist(tmp_path / "site")
    tape = project / "tests" / "cassettes" / "test_bot" / "test_greeting.json"
    with ChatServer() as server:
        url = server.url
        first = _pytest(project, site, url)  # no cassette yet: records
        assert first.returncode == 0, first.stdout + first.stderr
        assert len(server.requests) == 6
        assert tape.exists()
        names = sorted(p.name for p in tape.parent.iterdir())
        assert names == [
            "test_greeting.json",
            "test_two_tapes[a].2.json",
            "test_two_tapes[a].json",
            "test_two_tapes[b_c].2.json",
            "test_two_tapes[b_c].json",
        ]
        again = _pytest(project, site, url, "--convo-record", "-k", "greeting")  # records again
        assert again.returncode == 0, again.stdout + again.stderr
        assert len(server.requests) == 8
    recorded = json.loads(tape.read_text())["interactions"]
    assert [i["stream"] for i in recorded] == [False, True]
    assert "sk-x" not in tape.read_text()
    offline = _pytest(project, site, url)  # the server is gone: replays
    assert offline.returncode == 0, offline.stdout + offline.stderr
    assert "3 passed" in offline.stdout
    # Without its cassette and without the server, a test fails to connect; a strict
    # cassette whose recording was left unplayed fails its test.
    tape.unlink()
    strict_tape = tape.parent / "test_two_tapes[a].json"
    data = json.loads(strict_tape.read_text())
    data["interactions"].append(data["interactions"][0])
    strict_tape.write_text(json.dumps(data))
    failed = _pytest(project, site, url)
    assert failed.returncode == 1
    assert "1 failed, 2 passed, 1 error" in failed.stdout  # strict: an error at teardown
    assert "APIConnectionError" in failed.stdout
    assert "1 recorded interaction(s) were never played" in failed.stdout
