"""Killing containers and pods, the kubelet's killContainer and killPod
(kuberuntime_container.go, kuberuntime_manager.go): the grace period, StopContainer through
``kubert_kill_container``, and a pod's containers (regular ones in parallel, then sidecars in
reverse order) before its sandboxes.

Functions over the :class:`~kubert.kubelet.RuntimeManager`; its methods of the same names call
them.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from kubert.errors import KubertError, NotFoundError
from kubert.kubelet import labels
from kubert.kubelet.actions import LIVENESS_PROBE, STARTUP_PROBE
from kubert.kubelet.context import ContainerKill, Progress, StepResult
from kubert.kubelet.lifecycle import run_hook
from kubert.kubelet.observe import ContainerRuntimeStatus, PodRuntimeStatus
from kubert.kubelet.pod import Container, Pod
from kubert.model import PodSandboxState

if TYPE_CHECKING:
    from kubert.kubelet.manager import RuntimeManager


def grace_period(
    manager: RuntimeManager,
    pod: Pod | None,
    container: ContainerRuntimeStatus,
    spec: Container | None,
    reason: str,
) -> int:
    """Seconds of grace: the probe's own on probe failure, else the pod's; at least 2."""
    grace: int | None = None
    if spec is not None and reason == LIVENESS_PROBE and spec.liveness_probe:
        grace = spec.liveness_probe.termination_grace_period_seconds
    if spec is not None and reason == STARTUP_PROBE and spec.startup_probe:
        grace = spec.startup_probe.termination_grace_period_seconds
    if grace is None and pod is not None:
        grace = pod.spec.termination_grace_period_seconds
    if grace is None:
        grace = labels.int_annotation(container.status.annotations, labels.TERMINATION_GRACE, 30)
    return max(manager.config.min_grace_period, grace)


def kill_container(
    manager: RuntimeManager,
    pod: Pod | None,
    container: ContainerRuntimeStatus,
    spec: Container | None,
    reason: str,
    message: str,
    progress: Progress,
    grace_period: int | None = None,
) -> StepResult:
    """Stop one container through ``kubert_kill_container``.

    :param grace_period: seconds of grace when the caller decided them (a pod's shared
        budget); by default :func:`grace_period`.
    """
    if grace_period is None:
        grace_period = manager.grace_period(pod, container, spec, reason)
    kill = ContainerKill(
        pod=pod,
        container=container,
        spec=spec,
        reason=reason,
        message=message,
        grace_period=grace_period,
        runtime=manager.runtime,
        manager=manager,
        progress=progress,
    )
    progress(f"Killing container {container.name}: {message}")
    try:
        stopped = manager.pm.hook.kubert_kill_container(kill=kill)
    except KubertError as exc:
        return StepResult(
            action="KillContainer",
            target=container.name,
            error="KillContainerError",
            message=str(exc),
        )
    manager.probes.forget(container.id)
    if stopped is False:
        return StepResult(
            action="KillContainer",
            target=container.name,
            error="KillContainerRefused",
            message="a plugin kept it running",
        )
    return StepResult(action="KillContainer", target=container.name, message=message)


def default_kill_container(manager: RuntimeManager, kill: ContainerKill) -> None:
    """The kubelet's killContainer: the preStop hook inside the grace period, then
    StopContainer with what is left of it (at least the minimum); a gone container is fine."""
    grace = kill.grace_period
    hook = kill.spec.lifecycle.pre_stop if kill.spec and kill.spec.lifecycle else None
    if hook is not None:
        began = manager.clock.now()
        named = [(p.name, p.container_port) for p in kill.spec.ports if p.name] if kill.spec else []
        pod_ip = next(iter(manager.observe(kill.pod.uid).ips), "") if kill.pod else ""
        error = run_hook(
            manager.runtime, manager.clock, kill.container.id, hook, pod_ip, float(grace), named
        )
        if error:
            kill.progress(f"PreStopHook of {kill.container.name} failed: {error}")
        spent = max(0.0, manager.clock.now() - began)
        grace = max(manager.config.min_grace_period, int(grace - spent))
    try:
        manager.runtime.stop_container(kill.container.id, grace)
    except NotFoundError:
        return


def kill_pod(
    manager: RuntimeManager,
    pod: Pod | None,
    status: PodRuntimeStatus,
    reason: str,
    progress: Progress,
    grace_period: int | None = None,
) -> list[StepResult]:
    """Stop every running container (regular ones in parallel, then sidecars in reverse
    order), then every ready sandbox of the pod.

    :param grace_period: the deletion's grace period, overriding the pod's (at least the
        minimum), as ``kubectl delete --grace-period``.
    """
    if grace_period is not None:
        grace_period = max(manager.config.min_grace_period, grace_period)
    running = status.running_containers()
    sidecars = [c for c in running if c.kind == "sidecar"]
    if pod is not None:
        order = {c.name: i for i, c in enumerate(pod.spec.init_containers)}
        sidecars.sort(key=lambda c: order.get(c.name, -1), reverse=True)
    others = [c for c in running if c not in sidecars]
    message = {"Deleted": "the pod is being deleted"}.get(
        reason, f"the pod is killed ({reason})"
    )

    began = manager.clock.now()

    def kill(container: ContainerRuntimeStatus, budget: int | None = None) -> StepResult:
        spec = pod.find_container(container.name) if pod is not None else None
        return manager.kill_container(pod, container, spec, reason, message, progress, budget)

    steps: list[StepResult] = []
    if others:
        with ThreadPoolExecutor(max_workers=min(8, len(others))) as pool:
            steps += list(pool.map(lambda c: kill(c, grace_period), others))
    # Sidecars after the main containers, in reverse order, within the pod's one grace budget
    # (what the main containers left of it, at least the minimum), as the kubelet does.
    for sidecar in sidecars:
        total = grace_period or manager.grace_period(pod, sidecar, None, reason)
        left = int(total - max(0.0, manager.clock.now() - began))
        steps.append(kill(sidecar, max(manager.config.min_grace_period, left)))
    for sandbox in status.sandboxes:
        if sandbox.state != PodSandboxState.SANDBOX_READY:
            continue
        try:
            manager.runtime.stop_pod_sandbox(sandbox.id)
        except KubertError as exc:
            steps.append(
                StepResult(
                    action="KillPodSandbox",
                    target=sandbox.id,
                    error="KillPodSandboxError",
                    message=str(exc),
                )
            )
            continue
        progress(f"Stopped sandbox {sandbox.id[:13]}")
        steps.append(StepResult(action="KillPodSandbox", target=sandbox.id))
    return steps
