"""Model names: aliases, the default model, and the transport that serves a name.

A name is resolved in this order: the user's aliases, then the names, aliases and
name prefixes that plugins registered (the longest prefix wins), then the built-in
OpenAI-compatible transport, which serves any name nobody else claims once
``OPENAI_BASE_URL`` says which server; without it an unknown name raises
:class:`~convo.errors.UnknownModelError` (a conversation given ``transport=`` never
resolves its model).

User settings live in ``models.json`` in the config directory
(``$CONVO_CONFIG_DIR``, else the platform's, e.g. ``~/.config/convo``)::

    {"default": "local", "aliases": {"fast": "gpt-4.1-nano"}}

>>> resolve("gpt-4o-mini")
'gpt-4o-mini'
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from convo.errors import InputError, PluginError, UnknownModelError
from convo.plugins import manager

if TYPE_CHECKING:
    from convo.transports.base import Transport

__all__ = [
    "FALLBACK_MODEL",
    "LOCAL_ALIAS",
    "aliases",
    "config_path",
    "default_model",
    "get_transport",
    "model_names",
    "resolve",
    "setting",
]

FALLBACK_MODEL = "gpt-4o-mini"
LOCAL_ALIAS = "local"
"""The alias a plugin gives its offline model; with no other setting it is the default."""


def config_path() -> Path:
    """The user's model settings file (it need not exist)."""
    directory = os.environ.get("CONVO_CONFIG_DIR") or platformdirs.user_config_dir("convo")
    return Path(directory) / "models.json"


def _config() -> dict[str, Any]:
    path = config_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the model settings ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("aliases", {}), dict):
        raise InputError(f"{path}: expected an object with an 'aliases' object")
    return data


def setting(key: str) -> Any:
    """The value of ``key`` in the user's ``models.json`` (``None`` if unset)."""
    return _config().get(key)


def aliases() -> dict[str, str]:
    """Alias → model name: the plugins' aliases, overridden by the user's."""
    return {
        **manager().aliases(),
        **{str(k): str(v) for k, v in _config().get("aliases", {}).items()},
    }


def resolve(model: str) -> str:
    """The model name an alias stands for (a name that is no alias is returned as is).

    >>> resolve("gpt-4o")
    'gpt-4o'
    """
    if not isinstance(model, str) or not model.strip():
        raise InputError(f"a model name must be a non-empty string, got {model!r}")
    return aliases().get(model, model)


def get_transport(model: str) -> Transport:
    """A new transport serving ``model`` (the caller closes it).

    >>> type(get_transport("gpt-4o-mini")).__name__
    'OpenAITransport'
    """
    name = resolve(model)
    plugins = manager()
    entry = plugins.resolve(name)
    if entry is None:
        raise PluginError(f"no plugin serves the model {name!r} (see `convo plugins`)")
    if not plugins.claims(name) and not os.environ.get("OPENAI_BASE_URL"):
        raise _unknown(model, name, plugins.model_names())
    return entry.factory(name)


def _unknown(model: str, name: str, known: list[str]) -> UnknownModelError:
    if model != name:
        source = f"the alias {model!r} in {config_path()}"
    elif os.environ.get("CONVO_MODEL") == model:
        source = "from $CONVO_MODEL"
    elif _config().get("default") == model:
        source = f"the default in {config_path()}"
    else:
        source = "given as the model"
    return UnknownModelError(
        f"unknown model {name!r} ({source}): known models are {', '.join(known)} "
        f"(`convo models` lists them and their aliases); for a model on another server "
        f"set OPENAI_BASE_URL (e.g. http://127.0.0.1:8000/v1, or https://api.openai.com/v1 "
        f"for an OpenAI model not listed) or pass transport=",
        model=name,
    )


def model_names() -> list[str]:
    """Every model name that plugins registered."""
    return manager().model_names()


def default_model() -> str:
    """``$CONVO_MODEL``, else the settings' ``default``, else the offline model.

    With ``OPENAI_BASE_URL`` or ``OPENAI_API_KEY`` set (and no other setting) the
    user wants that server, so :data:`FALLBACK_MODEL` is returned; so it is too when
    no plugin offers a ``local`` model.
    """
    chosen = os.environ.get("CONVO_MODEL") or _config().get("default")
    if chosen:
        return resolve(str(chosen))
    if os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_KEY"):
        return FALLBACK_MODEL
    local = aliases().get(LOCAL_ALIAS)
    return local if local is not None else FALLBACK_MODEL
