"""Install the test plugin package (``tests/plugins/fake_plugin``) for real, once per run.

``pip install --target`` builds it with its own ``pyproject.toml`` into a temporary
directory, so entry-point discovery sees a genuine distribution (its ``dist-info``
and ``entry_points.txt``) without touching the environment: a test puts the
directory on ``sys.path`` (in-process) or on ``PYTHONPATH`` (a ``convo`` subprocess).
It needs no network: ``--no-index`` and the installed ``hatchling``.

In a conftest::

    from tests.support.fake_plugin import fake_plugin_site, with_fake_plugin  # noqa: F401
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "plugins" / "fake_plugin"


@pytest.fixture(scope="session")
def fake_plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the installed fake plugin (add it to ``sys.path``/``PYTHONPATH``)."""
    target = tmp_path_factory.mktemp("fake-plugin-site")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--no-build-isolation", "--no-index", "--target", str(target), str(SOURCE)],
        capture_output=True,
        text=True,
    )  # fmt: skip
    if done.returncode:
        pytest.fail(f"pip could not install the fake plugin:\n{done.stderr}")
    return target


@pytest.fixture
def with_fake_plugin(fake_plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The fake plugin importable and discoverable in this process, for one test."""
    monkeypatch.syspath_prepend(str(fake_plugin_site))
    importlib.invalidate_caches()
    yield fake_plugin_site
    for name in [m for m in sys.modules if m.startswith("convo_fake_plugin")]:
        del sys.modules[name]
    importlib.invalidate_caches()
