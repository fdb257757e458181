"""kubert's hook specifications: every hook of the core a plugin may implement.

Backends are classes registered by name (``kubert_register_backends``); everything else is a
plain hook or a ``wrapper=True`` wrapper. Arguments are only ever added, never removed. A layer
on top of the core (the kubelet side's pod-sync hooks, :mod:`kubert.kubelet.hookspecs`) adds
its own specifications through ``kubert_add_hookspecs``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from kubert.backends import Backend
    from kubert.options import ServeOption

hookspec = pluggy.HookspecMarker("kubert")
hookimpl = pluggy.HookimplMarker("kubert")

RegisterBackend = Callable[[str, "type[Backend]"], None]


# ---------------------------------------------------------------------------------------------
# Hook specifications of layers on top of the core
# ---------------------------------------------------------------------------------------------


@hookspec(historic=True)
def kubert_add_hookspecs(pm: pluggy.PluginManager) -> None:
    """Add the hook specifications a layer or plugin defines to the host's plugin manager.

    Historic: an implementation is called when its plugin is registered, also after the host
    made the call, so a layer's hooks exist before anything calls them. Add a module of
    specifications once (``pm.add_hookspecs(module)`` refuses a hook it already knows).

    :param pm: the plugin manager the host calls every hook through.
    :returns: nothing; every implementation is called.
    """


# ---------------------------------------------------------------------------------------------
# Backends (runtime, image, network, checkpoint store)
# ---------------------------------------------------------------------------------------------


@hookspec
def kubert_register_backends(register: RegisterBackend) -> None:
    """Hand the host the backend classes this plugin provides.

    Call ``register(name, cls)`` once per class. ``cls`` subclasses one or more of
    :class:`~kubert.RuntimeBackend`, :class:`~kubert.ImageBackend`,
    :class:`~kubert.NetworkBackend` and :class:`~kubert.CheckpointStore`; it is registered
    for every kind it implements. A name already taken for a kind is refused with an error.

    :param register: the host's registration function.
    :returns: nothing; every implementation is called.
    """


# ---------------------------------------------------------------------------------------------
# CRI calls (metrics, tracing, policy)
# ---------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def kubert_cri_call(method: str, request: Any, call: Callable[[Any], Any]) -> Any:
    """Serve one CRI call; wrap it with ``wrapper=True`` to observe or alter calls.

    The core's own implementation (``trylast``) returns ``call(request)``. A wrapper sees every
    call on its way in and its result (or exception) on its way out, as metrics need.

    :param method: the CRI method name, e.g. ``"RunPodSandbox"``.
    :param request: the request as kubert models (never protobuf).
    :param call: the function that performs the call.
    :returns: the response models; the first result wins. The entries of ListPodSandbox and
        ListContainers are read-only and may be the backend's own (shared from one list to
        the next): a wrapper that alters them hands back new entries (``attrs.evolve``).
    """


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


@hookspec
def kubert_serve_options() -> list[ServeOption]:  # type: ignore[empty-body]
    """Options this plugin adds to ``kubert serve`` (and its config file).

    :returns: a list of :class:`~kubert.ServeOption`; each lands in the options of the
        backend it names, under its ``key``. Every implementation's list is used.
    """


@hookspec
def kubert_add_commands(cli: click.Group, pm: pluggy.PluginManager) -> None:
    """Add sub-commands to the ``kubert`` command line.

    :param cli: the top-level click group; call ``cli.add_command(...)``.
    :param pm: the host's plugin manager, for commands that call hooks (the kubelet layer's
        pod commands run the pod-sync hooks through it).
    :returns: nothing; every implementation is called.
    """
