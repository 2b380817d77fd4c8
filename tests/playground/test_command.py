"""`convo playground` serves the page on loopback, as a built-in plugin's command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner

from convo import cli, plugins
from tests.playground.conftest import _free_port
from tests.support import require

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def test_convo_playground_serves_the_page_with_its_security_headers() -> None:
    require("uvicorn", "needs uvicorn")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "convo.cli", "playground", "--port", str(port),
         "--base-url", "http://127.0.0.1:1/v1"],
        stderr=subprocess.PIPE, env={**os.environ, "NO_PROXY": "*"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with _opener.open(f"http://127.0.0.1:{port}/", timeout=1) as page:
                    html = page.read().decode()
                    csp = page.headers["content-security-policy"]
                break
            except (urllib.error.URLError, OSError):
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert '<script type="module" src="main.js">' in html
        assert "script-src 'self'" in csp
        with _opener.open(f"http://127.0.0.1:{port}/config.json", timeout=5) as config:
            assert json.loads(config.read()) == {"default_base_url": "http://127.0.0.1:1/v1"}
        with pytest.raises(urllib.error.HTTPError, match="404"):
            _opener.open(f"http://127.0.0.1:{port}/../pyproject.toml", timeout=5)
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stderr:
            proc.stderr.close()


def test_the_command_comes_from_a_builtin_plugin() -> None:
    info = next(p for p in plugins.plugins() if p.name == "playground")
    assert info.hooks == ("register_commands",)
    plugins.register_commands(cli.cli)
    result = CliRunner().invoke(cli.cli, ["playground", "--help"])
    assert result.exit_code == 0
    assert "API key stays in the browser" in result.output
