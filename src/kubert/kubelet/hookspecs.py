"""The kubelet layer's hook specifications: policy over how a pod converges (pod sync).

Added to the core's plugin manager by :mod:`kubert.kubelet.plugin` (its
``kubert_add_hookspecs``), so these hooks exist wherever the kubelet layer is registered. Same
marker as the core's (``HookspecMarker("kubert")``): a plugin implements them with
:data:`kubert.hookimpl` like any core hook. Arguments are only ever added, never removed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubert.hookspecs import hookspec

if TYPE_CHECKING:
    from kubert.kubelet.actions import PodActions
    from kubert.kubelet.context import ContainerKill, ContainerStart, PodSyncContext, SyncResult
    from kubert.kubelet.pod import Pod
    from kubert.kubelet.settings import KubeletConfig


@hookspec(firstresult=True)
def kubert_compute_pod_actions(
    context: PodSyncContext, actions: PodActions
) -> PodActions | None:
    """Review, and optionally replace, the actions the kubelet's rules computed for one sync.

    Called once per sync of a pod, after ``compute_pod_actions`` and before anything is done.
    Return a new :class:`~kubert.kubelet.PodActions` (build it with ``attrs.evolve``) to change
    the plan, e.g. drop a changed container from ``containers_to_kill`` and handle it yourself
    in :func:`kubert_start_container`, or add containers whose env fieldRef values changed.
    May make CRI calls through ``context.runtime`` (e.g. pre-pull images) before answering.

    :param context: the pod, what the runtime holds for it, probe verdicts, the CRI client.
    :param actions: the kubelet's plan.
    :returns: the plan to run, or None to keep ``actions``; the first non-None result wins.
    """


@hookspec(firstresult=True)
def kubert_sync_pod(
    context: PodSyncContext, actions: PodActions
) -> SyncResult | None:
    """Carry out one sync's plan: the kubelet's SyncPod steps after compute.

    The kubelet layer's own implementation (``trylast``) kills the pod if needed, kills unwanted
    containers, creates the sandbox, starts ephemeral containers, init containers one at a time,
    resizes, then regular containers. Wrap it (``wrapper=True``) to act before the plan runs and
    to verify, record or roll back after it.

    :param context: the pod and the state the plan was computed from.
    :param actions: the plan (as returned by :func:`kubert_compute_pod_actions`).
    :returns: the :class:`~kubert.kubelet.SyncResult`; the first result wins.
    """


@hookspec(firstresult=True)
def kubert_start_container(start: ContainerStart) -> str | None:
    """Create and start one container in a ready sandbox.

    The kubelet layer's own implementation (``trylast``) is the kubelet's: back-off check is
    already done; it ensures the image (pull policy), builds the ContainerConfig,
    CreateContainer, StartContainer. A plugin may do it differently (verify the new container,
    roll back to the previous image) and call ``start.default()`` for the plain steps.

    :param start: the pod, container spec, sandbox, restart count and previous container.
    :returns: the new container's ID, or None to let the next implementation start it; the
        first non-None result wins. Raise a KubertError to report the start as failed.
    """


@hookspec(firstresult=True)
def kubert_kill_container(kill: ContainerKill) -> bool | None:
    """Stop one running container with its grace period.

    The kubelet layer's own implementation (``trylast``) calls StopContainer with
    ``kill.grace_period``. A plugin may pre-pull the replacement's image before the old
    container stops, or refuse to stop it (return False: the container keeps running, the sync
    reports it and ends there, so that no replacement runs beside it; a raised KubertError does
    the same).

    :param kill: the container, its spec, why it is killed and the grace period.
    :returns: True when the container was stopped, False when it was deliberately kept, None
        to let the next implementation decide; the first non-None result wins.
    """


@hookspec
def kubert_pod_status_extra(  # type: ignore[empty-body]
    uid: str, pod: Pod | None, config: KubeletConfig, detail: bool
) -> dict[str, str]:
    """Extra status a pod-sync plugin keeps about one pod, for ``kubert get`` / ``describe``.

    ``kubert get pods`` shows each key as a column (upper-cased), ``kubert describe pod`` as a
    ``Key: value`` line (a value may span several lines). Read only what the plugin recorded
    (files under ``config.root_dir``); make no CRI calls.

    :param uid: the pod's uid.
    :param pod: its manifest, or None when only the runtime knows the pod.
    :param config: the kubelet side's settings (where pod directories are).
    :param detail: False for a short one-line value per key (a table cell), True for the
        full text ``describe`` prints.
    :returns: key -> value; every implementation's mapping is shown, an empty one adds nothing.
    """
