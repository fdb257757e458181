"""The kubelet layer as the core's plugin host sees it: one plugin, registered through the
``kubert`` entry point ``kubelet`` of the core distribution (loaded whatever autoload says).

It adds the layer's hook specifications (:mod:`kubert.kubelet.hookspecs`), the pod commands
(:mod:`kubert.kubelet.cli`), and the kubelet's own pod-sync steps as ``trylast``
implementations, so a plugin's implementation runs first and a wrapper sees these run. A bare
plugin manager handed to :class:`~kubert.kubelet.RuntimeManager` gets the layer registered
there too (:func:`register`).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pluggy

from kubert import hookspecs as core_hookspecs
from kubert.hookspecs import hookimpl
from kubert.kubelet import hookspecs

if TYPE_CHECKING:
    import click

    from kubert.kubelet.actions import PodActions
    from kubert.kubelet.context import ContainerKill, ContainerStart, PodSyncContext, SyncResult

#: The layer's plugin name (its entry point's name; ``kubert plugins`` shows it).
PLUGIN_NAME = "kubelet"


def knows_pod_sync_hooks(pm: pluggy.PluginManager) -> bool:
    """Whether ``pm`` has the layer's hook specifications already."""
    caller = getattr(pm.hook, "kubert_sync_pod", None)
    return caller is not None and caller.has_spec()


def new_plugin_manager() -> pluggy.PluginManager:
    """A plugin manager with the core's and the layer's hookspecs and the layer registered,
    for callers without a PluginHost."""
    pm = pluggy.PluginManager("kubert")
    pm.add_hookspecs(core_hookspecs)
    register(pm)
    return pm


def register(pm: pluggy.PluginManager) -> None:
    """Register the layer on ``pm`` unless it is there: what a PluginHost does from the entry
    point, for a plugin manager built by hand."""
    layer = sys.modules[__name__]
    if not pm.is_registered(layer):
        pm.register(layer, name=PLUGIN_NAME)
    # A plugin manager without the core's historic call has not run the hook on registering.
    kubert_add_hookspecs(pm)


@hookimpl
def kubert_add_hookspecs(pm: pluggy.PluginManager) -> None:
    if not knows_pod_sync_hooks(pm):
        pm.add_hookspecs(hookspecs)


@hookimpl
def kubert_add_commands(cli: click.Group, pm: pluggy.PluginManager) -> None:
    from kubert.kubelet.cli import add_commands  # click commands only for the command line

    add_commands(cli, pm)


@hookimpl(trylast=True)
def kubert_sync_pod(context: PodSyncContext, actions: PodActions) -> SyncResult:
    return context.manager.default_sync_pod(context, actions)


@hookimpl(trylast=True)
def kubert_start_container(start: ContainerStart) -> str:
    return start.default()


@hookimpl(trylast=True)
def kubert_kill_container(kill: ContainerKill) -> bool:
    kill.default()
    return True
