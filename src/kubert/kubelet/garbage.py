"""Garbage collection, the kubelet's container and sandbox GC (kuberuntime_gc.go): after each
sync the pod keeps per container name its newest instance and newest dead one and loses older
dead ones and emptied old sandboxes; a deleted pod loses everything it left, its directory and
its log directory included.

Functions over the :class:`~kubert.kubelet.RuntimeManager`; its methods call them.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from typing import TYPE_CHECKING

from kubert.errors import KubertError, NotFoundError
from kubert.kubelet.context import Progress
from kubert.kubelet.logfiles import remove_links
from kubert.kubelet.observe import PodRuntimeStatus
from kubert.kubelet.pod import Pod
from kubert.model import ContainerState, PodSandboxState

if TYPE_CHECKING:
    from kubert.kubelet.manager import RuntimeManager

log = logging.getLogger(__name__)


def collect_garbage(manager: RuntimeManager, pod: Pod, status: PodRuntimeStatus) -> None:
    """Per container name keep the newest instance and the newest dead one (the kubelet's
    MaxPerPodContainer of 1: its logs, exit code and ``logs --previous``), remove older
    dead ones, and remove old sandboxes left without containers."""
    newest: set[str] = set()
    dead_kept: set[str] = set()
    removed: set[str] = set()
    for container in status.containers:
        if container.name not in newest:
            newest.add(container.name)
            continue
        if container.name not in dead_kept and not container.running:
            dead_kept.add(container.name)
            continue
        if container.state in (
            ContainerState.CONTAINER_EXITED,
            ContainerState.CONTAINER_CREATED,
        ):
            try:
                manager.runtime.remove_container(container.id)
            except KubertError as exc:
                log.info("cannot remove container %s: %s", container.id[:13], exc)
                continue
            removed.add(container.id)
            forget_container(manager, container.id)
    if removed:
        remove_links(manager.config, removed)
    live = {c.sandbox_id for c in status.containers if c.id not in removed}
    for sandbox in status.sandboxes[1:]:
        if sandbox.state != PodSandboxState.SANDBOX_READY and sandbox.id not in live:
            try:
                manager.runtime.remove_pod_sandbox(sandbox.id)
            except KubertError as exc:
                log.info("cannot remove sandbox %s: %s", sandbox.id[:13], exc)


def remove_pod(
    manager: RuntimeManager,
    uid: str,
    pod: Pod | None,
    status: PodRuntimeStatus,
    progress: Progress,
) -> None:
    """Remove a killed pod's containers and sandboxes, its directory and its logs, and what the
    manager remembered about it."""
    for container in status.containers:
        with contextlib.suppress(NotFoundError):
            manager.runtime.remove_container(container.id)
        forget_container(manager, container.id)
    for sandbox in status.sandboxes:
        manager.runtime.remove_pod_sandbox(sandbox.id)
        progress(f"Removed sandbox {sandbox.id[:13]}")
    shutil.rmtree(manager.config.pod_dir(uid), ignore_errors=True)
    namespace = pod.namespace if pod is not None else status.namespace
    name = pod.name if pod is not None else status.name
    if namespace and name:
        # The pod's logs go with it, as the kubelet's pod log GC does.
        shutil.rmtree(manager.config.log_root / f"{namespace}_{name}_{uid}", ignore_errors=True)
    # The log agents' links of its containers, and any left dangling by the logs' removal.
    remove_links(manager.config, [c.id for c in status.containers])
    for key in [k for k in manager.waiting if k[0] == uid]:
        del manager.waiting[key]


def forget_container(manager: RuntimeManager, container_id: str) -> None:
    """Drop a removed container's exit time (its backoff event) and probe state."""
    manager.exit_seen.pop(container_id, None)
    manager.probes.forget(container_id)
