"""Finding plugins, calling their hooks, and keeping what they register.

:class:`PluginManager` loads, once and on first use, the built-in plugins and then
every ``convo`` entry point. Each plugin's hooks are called on their own, with a
``register`` callable bound to that plugin, so that everything registered is
credited to it and a plugin that fails to import or raises in a hook is recorded
(a warning is logged, :meth:`PluginManager.errors` keeps it) without stopping the
others.

>>> from convo.plugins import hookimpl
>>> class Shouter:
...     @hookimpl
...     def register_transports(self, register):
...         register("shout", lambda model: None, aliases=("loud",))
>>> pm = PluginManager(entry_points=False, builtins=())
>>> pm.add(Shouter(), "shouter")
>>> pm.resolve("loud").name, pm.plugins()[0].models
('shout', ('shout',))
"""

from __future__ import annotations

import functools
import importlib
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any

import pluggy

from convo.errors import PluginError
from convo.plugins import hookspecs

if TYPE_CHECKING:
    from convo.templates import TemplateRegistry
    from convo.tools import ToolRegistry
    from convo.transports.base import Transport

__all__ = ["BUILTINS", "GROUP", "PluginInfo", "PluginManager", "TransportEntry"]

GROUP = "convo"
"""The entry-point group (and pluggy project name) plugins are found under."""

BUILTINS: tuple[tuple[str, str], ...] = (
    ("openai", "convo.plugins.builtin"),
    ("serve", "convo.plugins.serve_command"),
    ("playground", "convo.plugins.playground_command"),
)
"""``(name, module)`` of the plugins that ship with convo; they register like any other."""

logger = logging.getLogger("convo.plugins")

TransportFactory = Callable[[str], "Transport"]


@dataclass(frozen=True, slots=True)
class TransportEntry:
    """A model name served by ``factory``, as a plugin registered it."""

    name: str
    factory: TransportFactory
    plugin: str
    aliases: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """One plugin as ``convo plugins`` shows it: what it implements and registered."""

    name: str
    version: str | None
    hooks: tuple[str, ...]
    error: str | None = None
    models: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    templates: tuple[str, ...] = ()


# The distribution's name on PyPI ("convo" there is an unrelated project); the import
# name is convo.
DISTRIBUTION = "convo-llm"


def _convo_version() -> str | None:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # run from a source tree
        return None


class _Credits:
    __slots__ = ("models", "templates", "tools")

    def __init__(self) -> None:
        self.models: list[str] = []
        self.tools: list[str] = []
        self.templates: list[str] = []


class PluginManager:
    """Loads plugins and holds the transports, tools and templates they register.

    ``entry_points=False`` skips discovery (tests, embedding); ``builtins`` lists the
    ``(name, module)`` pairs registered first.
    """

    def __init__(
        self, *, entry_points: bool = True, builtins: Sequence[tuple[str, str]] = BUILTINS
    ) -> None:
        self._pm = pluggy.PluginManager(GROUP)
        self._pm.add_hookspecs(hookspecs)
        self._entry_points = entry_points
        self._builtins = tuple(builtins)
        self._lock = threading.RLock()
        self._loaded = False
        self._order: list[str] = []
        self._versions: dict[str, str | None] = {}
        self._errors: dict[str, str] = {}
        self._credits: dict[str, _Credits] = {}
        self._names: dict[str, TransportEntry] = {}
        self._aliases: dict[str, str] = {}
        self._prefixes: dict[str, TransportEntry] = {}
        self._tools: ToolRegistry | None = None
        self._templates: TemplateRegistry | None = None
        self._mcp: dict[str, tuple[str, str | None]] = {}

    # -- loading ---------------------------------------------------------------------

    def load(self) -> None:
        """Register the built-ins, then every entry point; only the first call does work."""
        with self._lock:
            if self._loaded:
                return
            self._loaded = True
            version = _convo_version()
            for name, module in self._builtins:
                self._load_one(name, functools.partial(importlib.import_module, module), version)
            if self._entry_points:
                for ep in sorted(metadata.entry_points(group=GROUP), key=lambda e: e.name):
                    dist = ep.dist
                    if dist is not None and dist.metadata["Name"] == DISTRIBUTION:
                        continue  # convo's own plugins are the built-ins above
                    self._load_one(ep.name, ep.load, dist.version if dist else None)

    def add(self, plugin: object, name: str, *, version: str | None = None) -> None:
        """Register a plugin object (a module, a class instance) and collect its hooks."""
        with self._lock:
            self.load()
            self._load_one(name, lambda: plugin, version)

    def _load_one(self, name: str, load: Callable[[], object], version: str | None) -> None:
        if name in self._versions:
            self._fail(name, f"another plugin is already named {name!r}")
            return
        self._order.append(name)
        self._versions[name] = version
        self._credits[name] = _Credits()
        try:
            self._pm.register(load(), name=name)
        except Exception as exc:  # an import error or a bad hook signature
            self._fail(name, f"could not be loaded: {type(exc).__name__}: {exc}")
            return
        self._call(name, "register_transports", register=self._transport_register(name))
        self._call(name, "register_tools", register=self._tool_register(name))
        self._call(name, "register_templates", register=self._template_register(name))
        self._call(name, "register_mcp_servers", register=self._mcp_register(name))

    def _call(self, name: str, hook: str, **kwargs: Any) -> None:
        for impl in getattr(self._pm.hook, hook).get_hookimpls():
            if impl.plugin_name != name:
                continue
            try:
                impl.function(*(kwargs[arg] for arg in impl.argnames))
            except Exception as exc:
                self._fail(name, f"{hook} failed: {type(exc).__name__}: {exc}")

    def _fail(self, name: str, message: str) -> None:
        logger.warning("plugin %r %s", name, message)
        previous = self._errors.get(name)
        self._errors[name] = f"{previous}; {message}" if previous else message

    # -- what plugins register -------------------------------------------------------

    def _transport_register(self, plugin: str) -> Callable[..., None]:
        def register(
            name: str,
            factory: TransportFactory,
            *,
            aliases: Iterable[str] = (),
            prefixes: Iterable[str] = (),
        ) -> None:
            if not isinstance(name, str) or not name:
                raise PluginError(
                    f"a model name must be a non-empty string, got {name!r}", plugin=plugin
                )
            if not callable(factory):
                raise PluginError(f"the factory for {name!r} is not callable", plugin=plugin)
            entry = TransportEntry(name, factory, plugin, tuple(aliases), tuple(prefixes))
            if self._taken(plugin, name, self._names.get(name) or self._aliases.get(name)):
                return
            self._names[name] = entry
            self._credits[plugin].models.append(name)
            for alias in entry.aliases:
                if not self._taken(
                    plugin, alias, self._names.get(alias) or self._aliases.get(alias)
                ):
                    self._aliases[alias] = name
            for prefix in entry.prefixes:
                if not self._taken(plugin, repr(prefix), self._prefixes.get(prefix)):
                    self._prefixes[prefix] = entry

        return register

    def _taken(self, plugin: str, what: str, holder: object) -> bool:
        # First come, first served: built-ins load first, then plugins by entry-point name.
        if holder is None:
            return False
        owner = (
            holder.plugin if isinstance(holder, TransportEntry) else self._names[str(holder)].plugin
        )
        self._fail(plugin, f"{what} is already registered by plugin {owner!r}; kept theirs")
        return True

    def _tool_register(self, plugin: str) -> Callable[[Any], None]:
        def register(tool: Any) -> None:
            self._tool_registry().add(tool)
            name = getattr(tool, "name", None) or getattr(tool, "__name__", repr(tool))
            self._credits[plugin].tools.append(str(name))

        return register

    def _template_register(self, plugin: str) -> Callable[[str, Any], None]:
        def register(name: str, template: Any) -> None:
            self._template_registry().register(name, template)
            self._credits[plugin].templates.append(name)

        return register

    def _mcp_register(self, plugin: str) -> Callable[..., None]:
        def register(name: str, server: str, *, prefix: str | None = None) -> None:
            if not isinstance(name, str) or not name or not isinstance(server, str):
                raise TypeError("register(name, server) takes two strings")
            if name in self._mcp:
                raise ValueError(f"an MCP server named {name!r} is already registered")
            self._mcp[name] = (server, prefix)
            self._credits[plugin].tools.append(f"mcp:{name}")

        return register

    def _tool_registry(self) -> ToolRegistry:
        if self._tools is None:
            from convo.tools import ToolRegistry

            self._tools = ToolRegistry()
        return self._tools

    def _template_registry(self) -> TemplateRegistry:
        if self._templates is None:
            from convo.templates import TemplateRegistry

            self._templates = TemplateRegistry()
        return self._templates

    # -- reading ---------------------------------------------------------------------

    def resolve(self, model: str) -> TransportEntry | None:
        """The entry serving ``model``: exact name, alias, then the longest prefix."""
        self.load()
        entry = self._names.get(model) or self._names.get(self._aliases.get(model, ""))
        if entry is not None:
            return entry
        matches = [p for p in self._prefixes if model.startswith(p)]
        return self._prefixes[max(matches, key=len)] if matches else None

    def claims(self, model: str) -> bool:
        """Whether a plugin serves ``model`` by name, alias or a non-empty prefix (not
        only by the built-in catch-all, the empty prefix)."""
        self.load()
        if model in self._names or self._aliases.get(model, "") in self._names:
            return True
        return any(p and model.startswith(p) for p in self._prefixes)

    def model_names(self) -> list[str]:
        """Every registered model name, in registration order."""
        self.load()
        return list(self._names)

    def aliases(self) -> dict[str, str]:
        """Alias → model name, as plugins registered them."""
        self.load()
        return dict(self._aliases)

    def tools(self) -> ToolRegistry:
        """The registry of every tool that plugins offer (shared: do not add to it)."""
        self.load()
        return self._tool_registry()

    def mcp_servers(self) -> dict[str, tuple[str, str | None]]:
        """MCP server name → ``(command line or URL, prefix)``, as plugins offered them."""
        self.load()
        return dict(self._mcp)

    def templates(self) -> TemplateRegistry:
        """The registry of every template that plugins offer."""
        self.load()
        return self._template_registry()

    def register_commands(self, cli: Any) -> None:
        """Let each plugin add its subcommands to the click group ``cli``."""
        self.load()
        for name in self._order:
            if self._pm.get_plugin(name) is not None:
                self._call(name, "register_commands", cli=cli)

    def plugins(self) -> list[PluginInfo]:
        """Every plugin, loaded or failed, in load order."""
        self.load()
        out = []
        for name in self._order:
            plugin = self._pm.get_plugin(name)
            hooks = (
                sorted(caller.name for caller in self._pm.get_hookcallers(plugin) or ())
                if plugin is not None
                else []
            )
            credits = self._credits[name]
            out.append(
                PluginInfo(
                    name=name,
                    version=self._versions[name],
                    hooks=tuple(hooks),
                    error=self._errors.get(name),
                    models=tuple(credits.models),
                    tools=tuple(credits.tools),
                    templates=tuple(credits.templates),
                )
            )
        return out

    def errors(self) -> dict[str, str]:
        """Plugin name → what went wrong, for every plugin that failed in part or whole."""
        self.load()
        return dict(self._errors)
