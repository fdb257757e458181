"""The core's own pod-sync hook implementations (``trylast``): the kubelet's behaviour.

Registered as a core built-in (``kubert.plugins.BUILTINS``), so a plugin's implementation runs
first and a wrapper sees these run; a bare plugin manager handed to
:class:`~kubert.kubelet.manager.RuntimeManager` gets them registered there too.
"""

from __future__ import annotations

from kubert.hookspecs import hookimpl
from kubert.kubelet.actions import PodActions
from kubert.kubelet.context import ContainerKill, ContainerStart, PodSyncContext, SyncResult


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
