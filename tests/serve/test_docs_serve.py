"""docs/serve.md: the seed's curl command works against a live `convo serve`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.serve.conftest import Served

DOC = Path(__file__).parents[2] / "docs" / "serve.md"


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_the_seeds_curl_example_works(served: Served) -> None:
    text = DOC.read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```bash\n(.*?)```", text, re.S) if "curl" in b)
    port = served.url.split(":")[2].split("/")[0]
    command = block.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    out = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30)
    reply = json.loads(out.stdout)
    assert reply["object"] == "chat.completion"
    assert reply["choices"][0]["message"]["content"] == "echo: Hello!"
    assert served.upstream.requests[-1].json["max_tokens"] == 150
