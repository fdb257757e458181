"""The plugin host: a typed wrapper around pluggy that loads plugins and keys backends by name."""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from importlib import metadata
from typing import Any, TypeVar

import pluggy
from attrs import define, field, frozen

from kubert import hookspecs
from kubert.backends import (
    Backend,
    BackendContext,
    CheckpointStore,
    ImageBackend,
    NetworkBackend,
    RuntimeBackend,
)
from kubert.errors import InvalidArgumentError, PluginLoadError
from kubert.options import ServeOption
from kubert.requirements import Requirement, unconditional

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "kubert"
AUTOLOAD_ENV = "KUBERT_DISABLE_PLUGIN_AUTOLOAD"
BLOCK_ENV = "KUBERT_BLOCK_PLUGINS"

#: Core built-ins, registered through the same ``pm.register`` path as any plugin, and the one
#: place that lists them: the core ``kubert_cri_call``, the metrics wrapper and the built-in
#: backends (``file`` checkpoints, ``noop`` network, ``memory`` runtime and images).
BUILTINS: tuple[str, ...] = (
    "kubert.service",
    "kubert.metrics",
    "kubert.checkpoint",
    "kubert.network_noop",
    "kubert.testing.memory",
)

#: The distribution whose own ``kubert`` entry points are layers of kubert (the kubelet side):
#: loaded whatever autoload says, before any other plugin. The core never imports them.
CORE_DISTRIBUTION = "kubert"

BACKEND_KINDS: dict[str, type[Backend]] = {
    "runtime": RuntimeBackend,
    "image": ImageBackend,
    "network": NetworkBackend,
    "checkpoint": CheckpointStore,
}

#: kubert's own plugin distributions: entry-point name -> (distribution, core extra that brings it).
#: ``kubert plugins`` lists the ones not installed with the command that installs them.
FIRST_PARTY: dict[str, tuple[str, str]] = {
    "docker": ("kubert-docker", "docker"),
    "cni": ("kubert-cni", "cni"),
    "inplace": ("kubert-inplace", "inplace"),
}

#: Entry points that serve only the kubelet side (pod sync, the pod commands): the kubelet
#: layer and kubert's own plugin of it. A host made for ``kubert serve`` leaves them unimported
#: (3 MB of its RSS: 64.7 -> 61.6 MB), unless a loaded plugin implements one of the layer's hooks.
KUBELET_SIDE: frozenset[str] = frozenset({"kubelet", "inplace"})

B = TypeVar("B", bound=Backend)


@frozen(kw_only=True)
class PluginInfo:
    """One row of ``kubert plugins``."""

    name: str
    distribution: str
    version: str
    provides: tuple[str, ...]
    active: bool
    reason: str = ""


@define
class PluginHost:
    """Loads plugins, collects their backends, and calls hooks with real types.

    :param autoload: load the ``kubert`` entry points (``KUBERT_DISABLE_PLUGIN_AUTOLOAD=1``
        turns it off whatever this says).
    :param blocked: plugin names never to load (also ``KUBERT_BLOCK_PLUGINS=a,b``).
    :param serving: the host of ``kubert serve``: the :data:`KUBELET_SIDE` entry points are
        loaded only when another plugin needs the layer's hooks declared.
    """

    autoload: bool = True
    blocked: frozenset[str] = field(factory=frozenset, converter=frozenset)
    serving: bool = False
    pm: pluggy.PluginManager = field(init=False)
    backends: dict[str, dict[str, type[Backend]]] = field(init=False, factory=dict)
    backend_owner: dict[tuple[str, str], str] = field(init=False, factory=dict)
    failures: dict[str, PluginLoadError] = field(init=False, factory=dict)
    blocked_found: dict[str, str] = field(init=False, factory=dict)
    #: KUBELET_SIDE entry points a serving host left unimported.
    deferred: dict[str, metadata.EntryPoint] = field(init=False, factory=dict)
    _dists: dict[str, tuple[str, str]] = field(init=False, factory=dict)
    _loaded: bool = field(init=False, default=False)

    def __attrs_post_init__(self) -> None:
        self.pm = pluggy.PluginManager("kubert")
        self.pm.add_hookspecs(hookspecs)
        # Every plugin registered from now on adds its own hookspecs (a layer's) on registering.
        self.pm.hook.kubert_add_hookspecs.call_historic(kwargs={"pm": self.pm})
        env_blocked = os.environ.get(BLOCK_ENV, "")
        self.blocked = self.blocked | {n.strip() for n in env_blocked.split(",") if n.strip()}
        if os.environ.get(AUTOLOAD_ENV, "").strip() not in ("", "0", "false", "no"):
            self.autoload = False
        self.backends = {kind: {} for kind in BACKEND_KINDS}

    # ---- loading -----------------------------------------------------------------------

    def load(self, extra: Iterable[object] = ()) -> PluginHost:
        """Register the built-ins, then the core distribution's layers, then the other entry
        points (if autoload), then ``extra`` plugins."""
        if self._loaded:
            return self
        self._loaded = True
        for module_name in BUILTINS:
            self.register(importlib.import_module(module_name), name=module_name)
            self._dists[module_name] = ("kubert", _version("kubert"))
        layers, plugins = _entry_points()
        self._load_entry_points(layers)
        if self.autoload:
            self._load_entry_points(plugins)
        for plugin in extra:
            self.register(plugin)
        if self.deferred and self._undeclared():
            # A plugin implements a hook of the layer: load it (and its kind) after all.
            deferred, self.deferred = self.deferred, {}
            self._load_entry_points(deferred.values(), defer=False)
        self._unload_undeclared_hooks()
        self.pm.check_pending()
        self.pm.hook.kubert_register_backends(register=self._register_backend_from_hook)
        return self

    def register(self, plugin: object, name: str | None = None) -> None:
        """Register one plugin object (module or instance), unless its name is blocked."""
        plugin_name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        if plugin_name in self.blocked:
            self.blocked_found[plugin_name] = "blocked by configuration"
            return
        self.pm.register(plugin, name=plugin_name)

    def _load_entry_points(
        self, entry_points: Iterable[metadata.EntryPoint], defer: bool = True
    ) -> None:
        for ep in entry_points:
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else "?"
            self._dists[ep.name] = (dist, version)
            if ep.name in self.blocked:
                self.blocked_found[ep.name] = f"blocked ({BLOCK_ENV} or configuration)"
                continue
            if self.pm.has_plugin(ep.name):
                continue
            if defer and self.serving and ep.name in KUBELET_SIDE:
                self.deferred[ep.name] = ep
                continue
            mismatch = _core_mismatch(ep.name, ep.dist) or _missing_dependency(ep.name, ep.dist)
            if mismatch is not None:
                self.failures[ep.name] = mismatch
                log.warning("%s", mismatch)
                continue
            try:
                plugin = ep.load()
            except PluginLoadError as exc:
                self.failures[ep.name] = exc
                log.warning("%s", exc)
                continue
            except ImportError as exc:
                missing = str(getattr(exc, "name", None) or exc)
                fix = _import_fix(missing, ep.value.split(":")[0], dist, version)
                failure = PluginLoadError(ep.name, f"cannot import {missing}", fix)
                self.failures[ep.name] = failure
                log.warning("%s", failure)
                continue
            except Exception as exc:  # a broken third-party plugin must not take the host down
                failure = PluginLoadError(
                    ep.name, f"{type(exc).__name__}: {exc}", f"report it to {dist}'s authors"
                )
                self.failures[ep.name] = failure
                log.warning("%s", failure)
                continue
            self.pm.register(plugin, name=ep.name)

    def _unload_undeclared_hooks(self) -> None:
        """Unload, and report with the fix, each plugin that implements a hook nobody declared:
        a layer's hook whose layer is blocked or missing from kubert's installed metadata."""
        for plugin_name, hook_name in self._undeclared().items():
            self.pm.unregister(name=plugin_name)
            failure = PluginLoadError(
                plugin_name,
                f"it implements {hook_name}, which no loaded plugin or layer of kubert declares",
                f"load the layer that declares it: not blocked ({BLOCK_ENV}), and kubert's own "
                f"entry points installed (pip install --force-reinstall "
                f"'kubert=={_version('kubert')}'; from a checkout: pip install -e .)",
            )
            self.failures[plugin_name] = failure
            log.warning("%s", failure)

    def _undeclared(self) -> dict[str, str]:
        """Plugin name -> the first hook it implements that no hookspec declares."""
        undeclared: dict[str, str] = {}
        for hook_name in list(vars(self.pm.hook)):
            caller = getattr(self.pm.hook, hook_name)
            if hook_name.startswith("_") or caller.has_spec():
                continue
            for impl in caller.get_hookimpls():
                if not impl.optionalhook:
                    undeclared.setdefault(impl.plugin_name, hook_name)
        return undeclared

    def _register_backend_from_hook(self, name: str, cls: type[Backend]) -> None:
        owner = self._current_owner(cls)
        kinds = [kind for kind, base in BACKEND_KINDS.items() if issubclass(cls, base)]
        if not kinds:
            raise TypeError(
                f"plugin {owner!r} registered {cls.__qualname__} as {name!r}, but it subclasses "
                "none of RuntimeBackend, ImageBackend, NetworkBackend, CheckpointStore"
            )
        for kind in kinds:
            taken = self.backends[kind].get(name)
            if taken is not None and taken is not cls:
                raise ValueError(
                    f"{kind} backend name {name!r} is registered twice: by "
                    f"{self.backend_owner[(kind, name)]!r} and by {owner!r}; block one of them "
                    f"with {BLOCK_ENV}"
                )
            self.backends[kind][name] = cls
            self.backend_owner[(kind, name)] = owner

    def _current_owner(self, cls: type[Backend]) -> str:
        module = cls.__module__
        plugins = [
            (str(name), str(getattr(plugin, "__name__", None) or type(plugin).__module__))
            for name, plugin in self.pm.list_name_plugin()
        ]
        # The plugin module that is the class's own module (or its package) wins; the built-ins
        # all live in the ``kubert`` package, so a top-level match alone would mix them up.
        for plugin_name, plugin_module in plugins:
            if module == plugin_module or module.startswith(plugin_module + "."):
                return plugin_name
        for plugin_name, plugin_module in plugins:
            if module.split(".")[0] == plugin_module.split(".")[0]:
                return plugin_name
        return module

    # ---- backends ----------------------------------------------------------------------

    def backend_class(self, kind: str, name: str) -> type[Backend]:
        """The class registered for ``kind`` under ``name``; a clear error names the choices."""
        registered = self.backends.get(kind, {})
        if name in registered:
            return registered[name]
        for plugin, failure in self.failures.items():
            if plugin == name:
                raise failure
        choices = ", ".join(sorted(registered)) or "none"
        raise InvalidArgumentError(
            f"{kind}", name, f"no {kind} backend has that name; installed: {choices}"
        )

    def create_backend(self, kind: str, name: str, context: BackendContext) -> Backend:
        cls = self.backend_class(kind, name)
        return cls(context)

    def serve_options(self) -> list[ServeOption]:
        options: list[ServeOption] = []
        for batch in self.pm.hook.kubert_serve_options():
            options.extend(batch or ())
        return options

    # ---- reporting ---------------------------------------------------------------------

    def report(self, active_backends: Sequence[str] = ()) -> list[PluginInfo]:
        """Rows for ``kubert plugins``: every plugin installed, loaded or not, and why not."""
        rows: list[PluginInfo] = []
        for plugin_name, _plugin in self.pm.list_name_plugin():
            provides = self._provides(plugin_name)
            dist, version = self._dists.get(plugin_name, ("?", "?"))
            backend_names = {p.split(":", 1)[1] for p in provides if ":" in p}
            # Plugins without backends (core, metrics, ...) are active whenever loaded.
            in_use = (
                not active_backends
                or not backend_names
                or bool(backend_names & set(active_backends))
            )
            rows.append(
                PluginInfo(
                    name=_short(plugin_name),
                    distribution=dist,
                    version=version,
                    provides=provides,
                    active=in_use,
                    reason="" if in_use else "loaded; not selected by configuration",
                )
            )
        for plugin_name, failure in self.failures.items():
            dist, version = self._dists.get(plugin_name, ("?", "?"))
            rows.append(
                PluginInfo(
                    name=plugin_name, distribution=dist, version=version, provides=(),
                    active=False, reason=f"{failure.reason}; fix: {failure.fix}",
                )
            )
        not_loaded = dict(self.blocked_found)
        not_loaded.update(
            (name, "kubelet side: loaded by the kubelet commands, not by kubert serve")
            for name in self.deferred
        )
        for plugin_name, why in not_loaded.items():
            dist, version = self._dists.get(plugin_name, ("?", "?"))
            rows.append(
                PluginInfo(
                    name=_short(plugin_name), distribution=dist, version=version, provides=(),
                    active=False, reason=why,
                )
            )
        if self.autoload:
            for plugin_name, (dist, extra) in FIRST_PARTY.items():
                if plugin_name in self._dists:
                    continue
                rows.append(
                    PluginInfo(
                        name=plugin_name, distribution=dist, version="-", provides=(),
                        active=False, reason=f"not installed; fix: pip install 'kubert[{extra}]'",
                    )
                )
        else:
            rows.append(
                PluginInfo(
                    name="(entry points)", distribution="-", version="-", provides=(),
                    active=False, reason=f"autoload disabled ({AUTOLOAD_ENV})",
                )
            )
        return rows

    def _provides(self, plugin_name: str) -> tuple[str, ...]:
        items = [
            f"{kind}:{name}"
            for (kind, name), owner in sorted(self.backend_owner.items())
            if owner == plugin_name
        ]
        plugin = self.pm.get_plugin(plugin_name)
        for caller in self.pm.get_hookcallers(plugin) or ():
            if caller.name not in ("kubert_register_backends", "kubert_add_hookspecs"):
                items.append(caller.name.removeprefix("kubert_") + "()")
        return tuple(items)


def _entry_points() -> tuple[list[metadata.EntryPoint], list[metadata.EntryPoint]]:
    """The ``kubert`` entry points: the core distribution's own (its layers), and all others."""
    layers: list[metadata.EntryPoint] = []
    plugins: list[metadata.EntryPoint] = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        own = ep.dist is not None and ep.dist.name == CORE_DISTRIBUTION
        (layers if own else plugins).append(ep)
    return layers, plugins


def _import_fix(missing: str, plugin_module: str, dist: str, version: str) -> str:
    """What to tell the user when a plugin's entry point raised ImportError for ``missing``."""
    if missing.split(".")[0] == plugin_module.split(".")[0]:
        # The plugin's own package is missing or broken: the installation is incomplete.
        return f"reinstall {dist}: pip install --force-reinstall '{dist}=={version}'"
    # A dependency the distribution declares (the docker SDK of kubert-docker) went missing.
    return (
        f"{dist} needs {missing!r}, which is not importable; reinstall it with its "
        f"dependencies: pip install --force-reinstall '{dist}=={version}'"
    )


def _requirements(dist: metadata.Distribution) -> Iterator[Requirement]:
    """The unconditional requirements ``dist`` declares (extras and markers left out)."""
    return unconditional(dist.requires or ())


def _missing_dependency(plugin: str, dist: metadata.Distribution | None) -> PluginLoadError | None:
    """A load error naming the first declared dependency of ``dist`` that is not installed
    (a removed SDK), found from metadata alone, before the plugin's module is imported."""
    if dist is None:
        return None
    for requirement in _requirements(dist):
        try:
            metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            name = dist.metadata["Name"]
            return PluginLoadError(
                plugin,
                f"{name} {dist.version} needs {requirement}, which is not installed",
                f"pip install '{requirement}'",
            )
    return None


def _core_mismatch(plugin: str, dist: metadata.Distribution | None) -> PluginLoadError | None:
    """A load error when ``dist`` declares a range of the kubert core that excludes this one.

    A plugin built against another core may call hooks or models that are not there; it is
    reported with both versions and the fix instead of failing later with a traceback.
    """
    if dist is None or dist.metadata["Name"] == "kubert":
        return None
    core = _version("kubert")
    if core == "?":
        return None
    for requirement in _requirements(dist):
        if requirement.name != "kubert":
            continue
        if requirement.contains(core):
            return None
        name, version = dist.metadata["Name"], dist.version
        return PluginLoadError(
            plugin,
            f"{name} {version} is built for kubert{requirement.specifier}, "
            f"but kubert {core} is installed",
            f"install a {name} release made for kubert {core} (pip install --upgrade '{name}'), "
            f"or the core it was built for: pip install 'kubert{requirement.specifier}'",
        )
    return None


def _short(plugin_name: str) -> str:
    return {
        "kubert.service": "core",
        "kubert.metrics": "metrics",
        "kubert.checkpoint": "checkpoint",
        "kubert.network_noop": "noop",
        "kubert.testing.memory": "memory",
    }.get(plugin_name, plugin_name)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def describe_plugins(rows: Sequence[PluginInfo]) -> list[dict[str, Any]]:
    return [
        {
            "name": r.name, "distribution": f"{r.distribution} {r.version}",
            "provides": ", ".join(r.provides), "active": r.active, "reason": r.reason,
        }
        for r in rows
    ]
