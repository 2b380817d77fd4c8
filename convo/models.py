"""Model names: aliases, the default model, and the transport that serves a name.

A name is resolved in this order: the user's aliases, then the names, aliases and
name prefixes that plugins registered (the longest prefix wins), then the built-in
OpenAI-compatible transport, which serves any name nobody else claims once
``OPENAI_BASE_URL`` says which server; without it an unknown name raises
:class:`~convo.errors.UnknownModelError` (a conversation given ``transport=`` never
resolves its model).

User settings live in ``models.json`` in the config directory
(``$CONVO_CONFIG_DIR``, else the platform's, e.g. ``~/.config/convo``)::

    {"default": "local", "aliases": {"fast": "gpt-4.1-nano"},
     "models": {"llama-3.1-8b": {"base_url": "http://127.0.0.1:8000/v1",
                                 "api_key_env": "VLLM_API_KEY", "context_window": 32768}}}

A name in ``"models"`` is routed explicitly, before any plugin: it is served by an
:class:`~convo.transports.openai.OpenAITransport` on its ``base_url`` (else
``$OPENAI_BASE_URL``, else OpenAI's) with the key read from the environment variable
its ``api_key_env`` names (the file never holds a key), and it declares its
``context_window`` to the budget.

>>> resolve("gpt-4o-mini")
'gpt-4o-mini'
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
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
    "ModelSettings",
    "aliases",
    "config_path",
    "configured",
    "default_choice",
    "default_model",
    "get_transport",
    "model_names",
    "remove_alias",
    "resolve",
    "set_alias",
    "set_default",
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
    if not isinstance(data.get("models", {}), dict):
        raise InputError(f"{path}: 'models' must be an object of model name to settings")
    return data


def _write(data: dict[str, Any]) -> None:
    # Written whole to a sibling file, then renamed: a crash never leaves half a file.
    path = config_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")
        partial.replace(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot write the model settings ({exc})") from None


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """A model's entry under ``"models"`` in ``models.json``: where it is served.

    ``api_key_env`` is the name of the environment variable that holds the key.

    >>> ModelSettings(base_url="http://127.0.0.1:8000/v1", context_window=32768)
    ModelSettings(base_url='http://127.0.0.1:8000/v1', api_key_env=None, context_window=32768)
    """

    base_url: str | None = None
    api_key_env: str | None = None
    context_window: int | None = None


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _settings(name: str, raw: Any, path: Path) -> ModelSettings:
    where = f"{path}: models.{name}"
    if not isinstance(raw, dict):
        raise InputError(f"{where} must be an object")
    if "api_key" in raw:
        # Said without the value: the file is the wrong place for a secret.
        raise InputError(
            f"{where} holds an 'api_key'; put the key in an environment "
            f"variable and name it with 'api_key_env'"
        )
    unknown = sorted(set(raw) - {"base_url", "api_key_env", "context_window"})
    if unknown:
        raise InputError(
            f"{where}: unknown keys {', '.join(unknown)} "
            f"(known: base_url, api_key_env, context_window)"
        )
    base_url, env, window = raw.get("base_url"), raw.get("api_key_env"), raw.get("context_window")
    if base_url is not None and not (
        isinstance(base_url, str) and base_url.startswith(("http://", "https://"))
    ):
        raise InputError(f"{where}.base_url must be an http:// or https:// URL")
    if env is not None and not (isinstance(env, str) and _ENV_NAME.fullmatch(env)):
        raise InputError(f"{where}.api_key_env must be the name of an environment variable")
    if window is not None and (
        isinstance(window, bool) or not isinstance(window, int) or window < 1
    ):
        raise InputError(f"{where}.context_window must be an integer >= 1, got {window!r}")
    return ModelSettings(base_url, env, window)


def configured() -> dict[str, ModelSettings]:
    """Model name → its settings, for every entry under ``"models"`` in ``models.json``."""
    path = config_path()
    return {str(k): _settings(str(k), v, path) for k, v in _config().get("models", {}).items()}


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
    settings = configured().get(name)
    if settings is not None:
        return _configured_transport(name, settings)
    plugins = manager()
    entry = plugins.resolve(name)
    if entry is None:
        raise PluginError(f"no plugin serves the model {name!r} (see `convo plugins`)")
    if not plugins.claims(name) and not os.environ.get("OPENAI_BASE_URL"):
        raise _unknown(model, name, model_names())
    return entry.factory(name)


def _configured_transport(name: str, settings: ModelSettings) -> Transport:
    from convo.transports.openai import OpenAITransport

    key: str | None = None  # None: the transport reads $OPENAI_API_KEY
    if settings.api_key_env is not None:
        key = os.environ.get(settings.api_key_env)
        if not key:
            raise InputError(
                f"model {name!r} reads its API key from ${settings.api_key_env} "
                f"(api_key_env in {config_path()}), which is not set"
            )
    elif settings.base_url is not None:
        # OpenAI's key must not travel to a server the user named for something else;
        # "" sends no key at all.
        key = ""
    return OpenAITransport(settings.base_url, api_key=key, context_window=settings.context_window)


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
    """Every model name that plugins registered, then those ``models.json`` configures."""
    return list(dict.fromkeys([*manager().model_names(), *configured()]))


def default_model() -> str:
    """``$CONVO_MODEL``, else the settings' ``default``, else the offline model.

    With ``OPENAI_BASE_URL`` or ``OPENAI_API_KEY`` set (and no other setting) the
    user wants that server, so :data:`FALLBACK_MODEL` is returned; so it is too when
    no plugin offers a ``local`` model.
    """
    return default_choice()[0]


def default_choice() -> tuple[str, str]:
    """The default model and why it is the default, as ``convo models`` shows it.

    >>> default_choice()[1] in {"$CONVO_MODEL", "models.json", "the offline model",
    ...     "OPENAI_BASE_URL is set", "OPENAI_API_KEY is set", "no offline model"}
    True
    """
    if os.environ.get("CONVO_MODEL"):
        return resolve(os.environ["CONVO_MODEL"]), "$CONVO_MODEL"
    chosen = _config().get("default")
    if chosen:
        return resolve(str(chosen)), "models.json"
    for variable in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        if os.environ.get(variable):
            return FALLBACK_MODEL, f"{variable} is set"
    local = aliases().get(LOCAL_ALIAS)
    if local is not None:
        return local, "the offline model"
    return FALLBACK_MODEL, "no offline model"


def _known(name: str) -> bool:
    target = resolve(name)
    return (
        target in configured()
        or manager().claims(target)
        or bool(os.environ.get("OPENAI_BASE_URL"))
    )


def set_default(model: str) -> None:
    """Make ``model`` (a name or alias) the default in ``models.json``.

    An unknown name is refused as :func:`get_transport` would refuse it.
    """
    if not _known(model):
        raise _unknown(model, resolve(model), model_names())
    _write({**_config(), "default": model})


def set_alias(alias: str, model: str) -> None:
    """Save ``alias`` for ``model`` in ``models.json`` (replacing one of that name)."""
    for value, what in ((alias, "an alias"), (model, "a model name")):
        if not isinstance(value, str) or not value.strip() or value != value.strip():
            raise InputError(
                f"{what} must be a non-empty string without surrounding spaces, got {value!r}"
            )
    if alias == model:
        raise InputError(f"the alias {alias!r} would name itself")
    if not _known(model):
        raise _unknown(model, resolve(model), model_names())
    data = _config()
    _write({**data, "aliases": {**data.get("aliases", {}), alias: model}})


def remove_alias(alias: str) -> None:
    """Remove ``alias`` from ``models.json``; an alias that is not there is an error."""
    data = _config()
    saved = dict(data.get("aliases", {}))
    if alias not in saved:
        where = " (a plugin's alias cannot be removed)" if alias in manager().aliases() else ""
        raise InputError(f"no alias {alias!r} in {config_path()}{where}")
    del saved[alias]
    _write({**data, "aliases": saved})
