"""The built wheels install and run in a fresh virtual environment.

The wheels of convo and of the convo-llamacpp plugin are built from this checkout
(offline, without build isolation) and installed with ``--no-index --no-deps`` into
a new venv that sees this interpreter's packages for the dependencies only. The
installed ``convo`` must then be the wheel's, not the checkout's, and work.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PLUGIN = ROOT / "plugins" / "convo-llamacpp"


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_built_wheels_install_and_run_in_a_fresh_venv(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(
        CONVO_CONFIG_DIR=str(tmp_path / "config"),
        CONVO_DB=f"sqlite:///{tmp_path / 'convo.db'}",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    env = {k: v for k, v in env.items() if not k.startswith("OPENAI_")}
    dist = tmp_path / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(dist), str(ROOT), str(PLUGIN)],
        env, tmp_path,
    )  # fmt: skip
    wheels = sorted(str(p) for p in dist.glob("*.whl"))
    assert [Path(w).name.split("-")[0] for w in wheels] == ["convo_llamacpp", "convo_llm"]
    ours = next(w for w in wheels if Path(w).name.startswith("convo_llm-"))
    # The plugin depends on this distribution by its published name, pinned to the series.
    with zipfile.ZipFile(next(w for w in wheels if w != ours)) as wheel:
        meta = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        requires = [
            line
            for line in wheel.read(meta).decode().splitlines()
            if line.startswith("Requires-Dist: convo")
        ]
        assert requires == ["Requires-Dist: convo-llm<0.2,>=0.1.0"], requires
    # The license travels with the wheel (hatchling's default license-files) and matches
    # the declared expression.
    with zipfile.ZipFile(ours) as wheel:
        names = wheel.namelist()
        license_file = next(n for n in names if n.endswith(".dist-info/licenses/LICENSE"))
        assert "Apache License" in wheel.read(license_file).decode()
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        text = wheel.read(metadata).decode()
        assert "License-Expression: Apache-2.0" in text
        assert "Classifier: Typing :: Typed" in text
        assert "Project-URL: Homepage, https://pypi.org/project/convo-llm/" in text

    home = tmp_path / "venv"
    venv.create(home, system_site_packages=True, with_pip=False)
    python = str(home / "bin" / "python")
    _run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-index",
         "--no-deps", *wheels],
        env, tmp_path,
    )  # fmt: skip
    code = "import convo, convo_llamacpp; print(convo.__file__, convo_llamacpp.__file__)"
    where = _run([python, "-c", code], env, tmp_path)
    assert all(p.startswith(str(home)) for p in where.stdout.split()), where.stdout
    code = "import convo, importlib.metadata as m; print(convo.__version__, m.version('convo-llm'))"
    assert _run([python, "-c", code], env, tmp_path).stdout == "0.1.0 0.1.0\n"

    script = str(home / "bin" / "convo")
    assert "convo, version 0.1.0" in _run([script, "--version"], env, tmp_path).stdout
    assert "chat" in _run([python, "-m", "convo", "--help"], env, tmp_path).stdout
    models = _run([script, "models"], env, tmp_path).stdout
    assert "qwen2.5-coder-0.5b  (plugin llamacpp; aliases: local; default)" in models
    assert _run([script, "ls"], env, tmp_path).stdout == ""
