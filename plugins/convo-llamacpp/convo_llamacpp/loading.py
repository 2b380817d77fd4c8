"""Opening a GGUF file with llama.cpp: a progress line, and Ctrl-C that stops the load.

llama.cpp loads a model inside one C call. Python runs signal handlers only between
bytecodes, so a Ctrl-C pressed then would wait for the load to end, and an exception
raised inside llama.cpp's progress callback (a ctypes callback) is printed and
ignored rather than propagated. So while a model loads on the main thread, SIGINT only
sets a flag; the progress callback returns False when it is set, which makes llama.cpp
abort the load, and :func:`open_model` then raises :class:`KeyboardInterrupt` as
Ctrl-C would have. The same callback draws the progress line (on a terminal only).

Example::

    llm = open_model(Path("model.gguf"), {"n_ctx": 4096, "verbose": False})
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import llama_cpp.llama_cpp as native
from llama_cpp import Llama

from convo_llamacpp.progress import Progress

__all__ = ["open_model"]

# Llama() builds its model parameters from this function and takes no progress
# callback of its own; it is wrapped only for the duration of one load, under a lock.
_patch_lock = threading.Lock()


def open_model(path: Path, kwargs: dict[str, Any]) -> Llama:
    """``Llama(model_path=path, **kwargs)``, with a progress line and interruptible."""
    with Progress(f"Loading {path.name}") as progress, _sigint_as_flag() as interrupted:

        def on_progress(fraction: float, _user_data: ctypes.c_void_p) -> bool:
            progress.update(fraction)
            return not interrupted()

        callback = native.llama_progress_callback(on_progress)  # kept alive by this frame
        with _patch_lock, _progress_callback(callback):
            try:
                return Llama(model_path=str(path), **kwargs)
            except ValueError:
                if interrupted():  # llama.cpp gave up because the callback said stop
                    raise KeyboardInterrupt from None
                raise


@contextlib.contextmanager
def _progress_callback(callback: Any) -> Iterator[None]:
    real = native.llama_model_default_params

    def with_callback() -> Any:
        params = real()
        params.progress_callback = callback
        return params

    native.llama_model_default_params = with_callback
    try:
        yield
    finally:
        native.llama_model_default_params = real


@contextlib.contextmanager
def _sigint_as_flag() -> Iterator[Callable[[], bool]]:
    flag = threading.Event()
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if main else None
    # Only Python's own Ctrl-C handler is replaced: an application's handler, or an
    # ignored SIGINT, stays as it was (and the load then runs to its end).
    if previous is not signal.default_int_handler:
        yield lambda: False
        return

    def handler(_signum: int, _frame: FrameType | None) -> None:
        flag.set()

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag.is_set
    finally:
        signal.signal(signal.SIGINT, previous)
    if flag.is_set():  # pressed after llama.cpp's last callback: honoured now
        raise KeyboardInterrupt
