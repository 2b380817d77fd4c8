"""The llama-server build script's cache: keyed by version, found without building."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support import build_llama_server


def test_the_cache_is_keyed_by_version_and_movable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVO_TEST_CACHE", str(tmp_path))
    assert (
        build_llama_server.binary_path("1.2.3") == tmp_path / "llama-server-1.2.3" / "llama-server"
    )


def test_a_cached_binary_is_returned_without_a_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVO_TEST_CACHE", str(tmp_path))
    cached = build_llama_server.binary_path()
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"\x7fELF")

    def no_build(*args: Any, **kw: Any) -> None:
        raise AssertionError(f"ran {args!r}")

    monkeypatch.setattr(subprocess, "run", no_build)
    assert build_llama_server.build() == cached


def test_a_failed_download_says_the_source_is_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fixture skips on this one outside CI (no package index), and fails on any other.
    monkeypatch.setenv("CONVO_TEST_CACHE", str(tmp_path))
    failed = subprocess.CompletedProcess(args=[], returncode=1)
    monkeypatch.setattr(subprocess, "run", lambda *a, **kw: failed)
    with pytest.raises(build_llama_server.SourceUnavailable, match="failed"):
        build_llama_server.build("0.0.0")
    assert not build_llama_server.binary_path("0.0.0").exists()
