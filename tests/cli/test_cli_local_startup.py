"""The local model's first use from the real ``convo`` command: progress, and Ctrl-C.

Assembly is made to wait by shadowing the first part package with one whose slice
is a named pipe (FIFO) that the test feeds: the command reads a real package, shows
its progress, and is interrupted with a real SIGINT while it reads, with no code of
convo's replaced. The model load is made to last by a ``sitecustomize`` that slows
the plugin's progress callback, the one place llama.cpp hands control back during a
load; the load itself, the signal and the command are real.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from tests.cli.helpers import convo_cmd
from tests.support import require

require("llama_cpp", "needs llama-cpp-python")
require("convo_llamacpp", "needs the convo-llamacpp plugin")

from convo_llamacpp.weights import DEFAULT_MODEL, default_model_path

MB = 1 << 20


def _default_sigint() -> None:
    """Runs in the child before exec: a suite started as a background job (``cmd &``)
    ignores SIGINT, an ignored signal stays ignored across exec, and these tests send it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _ask_local(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``convo ask -m local hi``, piped, with SIGINT restored in the child."""
    return subprocess.Popen(
        [*convo_cmd(), "ask", "-m", "local", "hi"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        preexec_fn=_default_sigint,
    )


@pytest.fixture
def fifo_part(tmp_path: Path) -> tuple[Path, Path]:
    """(site dir shadowing the first part package with a FIFO slice, that FIFO)."""
    package, resource = DEFAULT_MODEL.parts[0]
    site = tmp_path / "site"
    data = site / package / Path(resource).parent
    data.mkdir(parents=True)
    (site / package / "__init__.py").write_text("")
    fifo = site / package / resource
    os.mkfifo(fifo)
    return site, fifo


def _feed(fifo: Path, size: int) -> threading.Thread:
    def write() -> None:
        # Opening blocks until the command opens it to read; the writer then holds it
        # open, so the reader waits for more after ``size`` bytes (until interrupted).
        fd = os.open(fifo, os.O_WRONLY)
        try:
            os.write(fd, b"\0" * size)
            threading.Event().wait(60)
        finally:
            os.close(fd)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def _env(base: dict[str, str], tmp_path: Path, site: Path | None = None) -> dict[str, str]:
    path = [str(site)] if site else []
    if base.get("PYTHONPATH"):
        path.append(base["PYTHONPATH"])
    env = {**base, "XDG_CACHE_HOME": str(tmp_path / "cache"), "TERM": "xterm"}
    if path:
        env["PYTHONPATH"] = os.pathsep.join(path)
    return env


def test_assembly_shows_progress_on_a_terminal_and_ctrl_c_leaves_no_file(
    subprocess_env: dict[str, str], tmp_path: Path, fifo_part: tuple[Path, Path]
) -> None:
    pexpect = require("pexpect", "drives the command on a terminal")
    site, fifo = fifo_part
    env = _env(subprocess_env, tmp_path, site)
    cmd = convo_cmd()
    _feed(fifo, 8 * MB)
    child = pexpect.spawn(
        cmd[0],
        [*cmd[1:], "ask", "-m", "local", "hi"],
        env=env,
        timeout=120,
        encoding="utf-8",
        preexec_fn=_default_sigint,
    )
    try:
        child.expect(r"Assembling qwen2\.5-coder-0\.5b-instruct-q4_k_m\.gguf .*:\s+1%")
        child.sendintr()  # Ctrl-C, as the terminal sends it
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    screen = child.before
    assert child.exitstatus == 130, screen
    assert "Traceback" not in screen
    assert screen.strip().splitlines()[-1].strip().startswith("Interrupted")
    models = tmp_path / "cache" / "convo" / "models"
    assert not models.exists() or list(models.iterdir()) == []  # no partial file


def test_nothing_is_shown_when_stderr_is_not_a_terminal(
    subprocess_env: dict[str, str], tmp_path: Path, fifo_part: tuple[Path, Path]
) -> None:
    site, fifo = fifo_part
    env = _env(subprocess_env, tmp_path, site)
    writer = _feed(fifo, 8 * MB)
    with _ask_local(env) as proc:
        try:
            _wait_until_read(fifo, proc)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
    del writer
    assert proc.returncode == 130
    assert out == b""
    assert err.decode().strip() == "Interrupted: nothing of this turn was saved."
    models = tmp_path / "cache" / "convo" / "models"
    assert not models.exists() or list(models.iterdir()) == []


def _wait_until_read(fifo: Path, proc: subprocess.Popen[bytes]) -> None:
    # The partial file grows once the command reads the pipe: the assembly is under way.
    models = fifo.parents[2].parent / "cache" / "convo" / "models"
    for _ in range(600):
        parts = list(models.glob("*.part")) if models.exists() else []
        if parts and parts[0].stat().st_size > 0:
            return
        assert proc.poll() is None, "the command ended before assembling"
        threading.Event().wait(0.05)
    raise AssertionError("the assembly never started")


SLOW_LOAD = """
import sys, time
from convo_llamacpp import progress

_update = progress.Progress.update
_seen = []


def update(self, fraction):
    if self.label.startswith("Loading"):
        if not _seen:
            sys.stdout.write("LOADING\\n")
            sys.stdout.flush()
        _seen.append(fraction)
        time.sleep(0.2)
    _update(self, fraction)


progress.Progress.update = update
"""


def test_ctrl_c_during_the_model_load_stops_cleanly(
    subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    model = default_model_path()  # assembled in this process's cache, not the child's
    site = tmp_path / "slow"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SLOW_LOAD)
    env = {**_env(subprocess_env, tmp_path, site), "CONVO_LLAMACPP_MODEL": str(model)}
    with _ask_local(env) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline() == b"LOADING\n", proc.stderr.read() if proc.stderr else ""
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
    assert proc.returncode == 130, err
    assert out == b""
    assert err.decode().strip() == "Interrupted: nothing of this turn was saved."


PROBE = """
import sys
sys.argv = ["convo", *sys.argv[1:]]
from convo.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
heavy = ("pydantic", "sqlalchemy", "alembic", "tiktoken", "llama_cpp", "httpx2", "jinja2")
loaded = sorted(m for m in heavy if m in sys.modules)
encodings = sys.modules.get("convo.tokens.encodings")
built = sorted(encodings._loaded) if encodings else []
print(f"\\n{code} {loaded} {built}", file=sys.stderr)
"""


def _probe(env: dict[str, str], *args: str) -> tuple[str, str]:
    import sys

    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, timeout=300
    )
    return done.stdout, done.stderr.strip().splitlines()[-1]


def test_help_loads_none_of_the_heavy_libraries(subprocess_env: dict[str, str]) -> None:
    out, probe = _probe(subprocess_env, "--help")
    assert "Usage:" in out
    assert probe == "0 [] []"


def test_asking_the_local_model_builds_no_tiktoken_encoding(
    subprocess_env: dict[str, str],
) -> None:
    env = {**subprocess_env, "CONVO_LLAMACPP_MODEL": str(default_model_path())}
    out, probe = _probe(env, "ask", "-m", "local", "-o", "max_tokens", "4", "--usage", "Hi")
    assert out.strip()
    code, built = probe.split(" ", 1)[0], probe.rsplit("] ", 1)[-1]
    assert code == "0", probe
    assert built == "[]"  # counted with the model's own tokenizer


def test_the_model_load_shows_progress_on_a_terminal(
    subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    pexpect = require("pexpect", "drives the command on a terminal")
    env = {**_env(subprocess_env, tmp_path), "CONVO_LLAMACPP_MODEL": str(default_model_path())}
    cmd = convo_cmd()
    args = [*cmd[1:], "ask", "-m", "local", "-o", "max_tokens", "4", "Hi"]
    child = pexpect.spawn(cmd[0], args, env=env, timeout=300, encoding="utf-8")
    try:
        child.expect(r"Loading qwen2\.5-coder-0\.5b-instruct-q4_k_m\.gguf:\s+\d+%")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    assert "Traceback" not in child.before
    assert "\r\x1b[K" in child.before  # the line is wiped before the reply is printed
