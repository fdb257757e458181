"""One pod's sync, the kubelet's SyncPod (kuberuntime_manager.go): observe, probe, compute
actions (``kubert_compute_pod_actions`` may replace them), then ``kubert_sync_pod``, whose
default runs the steps after compute in the kubelet's order — kill the pod if needed, else kill
unwanted containers; create the sandbox and read its IPs; ephemeral containers; init containers
one at a time; resize; regular containers — then garbage collection.

Functions over the :class:`~kubert.kubelet.RuntimeManager`; its methods call them. Starting and
killing go through the manager (and so through ``kubert_start_container`` /
``kubert_kill_container``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import define

from kubert.errors import KubertError, UnimplementedError
from kubert.kubelet import podconditions
from kubert.kubelet.actions import (
    POD_DONE,
    SANDBOX_CHANGED,
    ContainerResize,
    PodActions,
    compute_pod_actions,
)
from kubert.kubelet.context import (
    ContainerStart,
    PodSyncContext,
    Progress,
    StepResult,
    SyncResult,
)
from kubert.kubelet.criconfigs import container_kind, pod_log_dir, sandbox_config
from kubert.kubelet.images import ImagePullError
from kubert.kubelet.logfiles import restart_count_from_logs
from kubert.kubelet.nodeinfo import node_ips
from kubert.kubelet.observe import PodRuntimeStatus
from kubert.kubelet.pod import Pod
from kubert.kubelet.podstatus import pod_view
from kubert.kubelet.resize import (
    RESIZE_IN_PROGRESS,
    RESIZE_PENDING,
    is_decrease,
    memory_below_usage,
)
from kubert.kubelet.starting import CRASH_LOOP_BACK_OFF, CREATE_CONFIG_ERROR, RUN_ERROR, StartError
from kubert.model import PodSandboxConfig

if TYPE_CHECKING:
    from kubert.kubelet.manager import RuntimeManager


def sync_pod(manager: RuntimeManager, pod: Pod, source: str, progress: Progress) -> SyncResult:
    """One sync of ``pod``: observe, probe, compute actions, carry them out, collect garbage."""
    status = manager.observe(pod.uid)
    # Probes run on their own (kubert.kubelet.probes); a sync only reads their results.
    manager.probes.track(pod, status)
    verdicts = manager.probes.verdicts(status)
    context = PodSyncContext(
        pod=pod,
        status=status,
        probes=verdicts,
        runtime=manager.runtime,
        manager=manager,
        progress=progress,
        source=source,
    )
    actions = compute_pod_actions(pod, status, verdicts, expect_ip=manager.expect_pod_ip)
    replaced = manager.pm.hook.kubert_compute_pod_actions(context=context, actions=actions)
    if replaced is not None:
        actions = replaced
    result: SyncResult = manager.pm.hook.kubert_sync_pod(context=context, actions=actions)
    after = manager.observe(pod.uid) if result.steps else status
    manager.probes.track(pod, after)  # containers this sync started are probed from now on
    manager.collect_garbage(pod, after)
    record_conditions(manager, pod, after)
    return result


def record_conditions(manager: RuntimeManager, pod: Pod, status: PodRuntimeStatus) -> None:
    """Write the pod's conditions and its containers' readiness for other processes to read."""
    directory = manager.config.pod_dir(pod.uid)
    previous = podconditions.load(directory)
    readiness = {c.id: manager.probes.ready(c.id) for c in status.running_containers()}
    waiting = {n: v for (u, n), v in manager.waiting.items() if u == pod.uid}
    now = manager.clock.now()
    view = pod_view(pod, status, waiting, readiness, previous, now)
    # the syncing process decides the resize conditions afresh
    conditions = [c for c in view.conditions if c.type in podconditions.CONDITION_TYPES]
    resize = manager.resize_status.get(pod.uid)
    if resize is not None:
        kind, reason, message = resize
        conditions += podconditions.stamp(
            [podconditions.Judged(type=kind, ok=True, reason=reason, message=message)],
            previous.by_type(),
            now,
        )
    podconditions.save(directory, podconditions.ConditionRecord(tuple(conditions), readiness))


def default_sync_pod(
    manager: RuntimeManager, context: PodSyncContext, actions: PodActions
) -> SyncResult:
    """The kubelet's SyncPod steps after compute (the layer's own ``kubert_sync_pod``)."""
    pod, status, progress = context.pod, context.status, context.progress
    config, runtime = manager.config, manager.runtime
    steps: list[StepResult] = []
    # Step 2: kill the pod if its sandbox must go; else step 3: kill unwanted containers.
    if actions.kill_pod:
        verb = "Killing pod" if status.sandboxes else "Creating pod"
        for reason in actions.reasons:
            progress(f"{verb} {pod.full_name}: {reason}")
        kill_reason = SANDBOX_CHANGED if actions.create_sandbox else POD_DONE
        steps += manager.kill_pod(pod, status, kill_reason, progress=progress)
        if any(not s.ok for s in steps):
            return SyncResult(steps=steps)
    else:
        for kill in actions.containers_to_kill:
            step = manager.kill_container(
                pod, kill.container, kill.spec, kill.reason, kill.message, progress
            )
            steps.append(step)
            if not step.ok:
                # As the kubelet: a container that would not stop ends this sync, so that
                # its replacement never runs beside it.
                return SyncResult(steps=steps)
    if actions.kill_pod and not actions.create_sandbox:
        return SyncResult(steps=steps)
    # Step 4: create the sandbox and read its IPs.
    try:
        sandbox_cfg = sandbox_config(config, pod, actions.attempt, context.source)
    except KubertError as exc:
        progress(f"Failed to make the sandbox config: {exc}")
        return SyncResult(steps=[*steps, _sandbox_failed(pod, "CreatePodSandboxConfigError", exc)])
    sandbox_id = actions.sandbox_id
    # hostNetwork pods have the node's IPs (status.podIP, fieldRefs), as in the kubelet
    pod_ips = node_ips() if pod.spec.host_network else status.ips
    if actions.create_sandbox:
        pod_log_dir(config, pod).mkdir(parents=True, exist_ok=True)
        progress(f"Creating sandbox for pod {pod.full_name} (attempt {actions.attempt})")
        try:
            sandbox_id = runtime.run_pod_sandbox(sandbox_cfg, config.runtime_handler)
            created = runtime.pod_sandbox_status(sandbox_id)
        except KubertError as exc:
            progress(f"Failed to create sandbox: {exc}")
            return SyncResult(steps=[*steps, _sandbox_failed(pod, "CreatePodSandboxError", exc)])
        steps.append(StepResult(action="CreatePodSandbox", target=sandbox_id))
        network = created.network
        pod_ips = (
            (network.ip, *(x.ip for x in network.additional_ips))
            if network and network.ip
            else ()
        )
        if pod.spec.host_network:
            pod_ips = node_ips()
        if not pod.spec.host_network and config.expect_pod_ip is None:
            # A fresh sandbox without an IP means the runtime's network hands out none
            # (noop): re-making sandboxes for it would loop. One with an IP: expect them.
            manager.expect_pod_ip = bool(pod_ips)
        shown = ", ".join(pod_ips) or ("host network" if pod.spec.host_network else "none")
        progress(f"Sandbox {sandbox_id[:13]} created, IP {shown}")
        # A fresh sandbox: decisions below see none of the old sandbox's containers.
        status = status.in_sandbox(sandbox_id)
    scope = _Scope(manager, context, sandbox_id, sandbox_cfg, tuple(pod_ips), status)
    # Step 5: ephemeral containers.
    for name in actions.ephemeral_containers_to_start:
        steps.append(scope.start(name, "ephemeral container"))
    # Step 6: init containers, one at a time; sidecars are started and left running.
    for name in actions.init_containers_to_start:
        step = scope.start(name, "init container")
        steps.append(step)
        spec = pod.find_container(name)
        if not step.ok and not (spec is not None and spec.is_sidecar):
            return SyncResult(steps=steps, sandbox_id=sandbox_id, pod_ips=pod_ips)
    # Step 7: resize running containers in place: decreases first (KEP-1287); static pods
    # are not resized.
    resize_steps = []
    if actions.containers_to_resize and context.source.startswith("file:"):
        names = ", ".join(r.container.name for r in actions.containers_to_resize)
        resize_steps.append(
            StepResult(
                action="ResizeContainer",
                target=names,
                error="Infeasible",
                message="static pods cannot be resized; edit the file to re-create the pod",
            )
        )
    else:
        ordered = sorted(
            actions.containers_to_resize,
            key=lambda r: not is_decrease(r.container.resources, r.resources),
        )
        resize_steps = [_resize(manager, resize, progress) for resize in ordered]
    steps += resize_steps
    manager.resize_status[pod.uid] = _resize_condition(resize_steps)
    # Step 8: regular containers.
    for name in actions.containers_to_start:
        steps.append(scope.start(name, "container"))
    return SyncResult(steps=steps, sandbox_id=sandbox_id, pod_ips=pod_ips)


def _sandbox_failed(pod: Pod, error: str, exc: KubertError) -> StepResult:
    return StepResult(action="CreatePodSandbox", target=pod.name, error=error, message=str(exc))


def _resize_condition(steps: list[StepResult]) -> tuple[str, str, str] | None:
    """PodResizePending (Infeasible) or PodResizeInProgress (an error) from this sync's resize
    steps, as ``(type, reason, message)``; None when every resize (if any) was applied."""
    failed = [s for s in steps if not s.ok]
    if not failed:
        return None
    first = failed[0]
    if first.error == "Infeasible":
        return RESIZE_PENDING, "Infeasible", first.message
    return RESIZE_IN_PROGRESS, "Error", f"{first.target}: {first.message}"


def _resize(manager: RuntimeManager, resize: ContainerResize, progress: Progress) -> StepResult:
    current = resize.container.resources
    if current is not None and 0 < resize.resources.memory_limit_in_bytes < (
        current.memory_limit_in_bytes or 2**63
    ):
        usage = _memory_usage(manager, resize.container.id)
        if memory_below_usage(resize.resources, usage):
            return StepResult(
                action="ResizeContainer",
                target=resize.container.name,
                error="ResizeMemoryBelowUsage",
                message=(
                    f"memory limit {resize.resources.memory_limit_in_bytes} is below the "
                    f"container's usage {usage}; kept until usage drops"
                ),
            )
    try:
        manager.runtime.update_container_resources(resize.container.id, resize.resources)
    except KubertError as exc:
        return StepResult(
            action="ResizeContainer",
            target=resize.container.name,
            error="ResizeUnsupported" if isinstance(exc, UnimplementedError) else "ResizeError",
            message=str(exc),
        )
    progress(f"Resized container {resize.container.name}")
    return StepResult(action="ResizeContainer", target=resize.container.name)


def _memory_usage(manager: RuntimeManager, container_id: str) -> int | None:
    """The container's memory working set, when the runtime reports stats."""
    stats = getattr(manager.runtime, "container_stats", None)
    if stats is None:
        return None
    try:
        memory = stats(container_id).memory
    except KubertError:
        return None
    return memory.working_set_bytes if memory is not None else None


@define
class _Scope:
    """One sync's sandbox, so that starting a container needs only its name."""

    manager: RuntimeManager
    context: PodSyncContext
    sandbox_id: str
    sandbox_config: PodSandboxConfig
    pod_ips: tuple[str, ...]
    status: PodRuntimeStatus

    def start(self, name: str, what: str) -> StepResult:
        manager, pod, progress = self.manager, self.context.pod, self.context.progress
        spec = pod.find_container(name)
        if spec is None:
            return StepResult(
                action="StartContainer",
                target=name,
                error=CREATE_CONFIG_ERROR,
                message=f"no container {name!r} in the pod spec",
            )
        # Restart counts run on across sandboxes: look at the whole pod, not this sandbox.
        previous = self.context.status.find(name)
        if container_kind(pod, spec) != "ephemeral":
            wait = manager.crash_backoff(pod, spec, previous)
            if wait:
                manager.waiting[(pod.uid, name)] = (CRASH_LOOP_BACK_OFF, wait)
                return StepResult(
                    action="StartContainer", target=name, error=CRASH_LOOP_BACK_OFF, message=wait
                )
        start = ContainerStart(
            pod=pod,
            spec=spec,
            kind=container_kind(pod, spec),
            sandbox_id=self.sandbox_id,
            sandbox_config=self.sandbox_config,
            pod_ips=self.pod_ips,
            previous=previous,
            restart_count=previous.restart_count + 1 if previous is not None
            else restart_count_from_logs(manager.config, pod, name),
            reason="first start" if previous is None else "restart",
            runtime=manager.runtime,
            manager=manager,
            progress=progress,
        )
        try:
            container_id = manager.start_container(start)
        except (ImagePullError, StartError) as exc:
            manager.waiting[(pod.uid, name)] = (exc.reason, exc.message)
            progress(f"Failed to start {what} {name}: {exc.reason}: {exc.message}")
            return StepResult(
                action="StartContainer", target=name, error=exc.reason, message=exc.message
            )
        except KubertError as exc:
            manager.waiting[(pod.uid, name)] = (RUN_ERROR, exc.message)
            progress(f"Failed to start {what} {name}: {exc.message}")
            return StepResult(
                action="StartContainer", target=name, error=RUN_ERROR, message=exc.message
            )
        manager.waiting.pop((pod.uid, name), None)
        progress(
            f"Started {what} {name} ({container_id[:13]}, restart count {start.restart_count})"
        )
        return StepResult(action="StartContainer", target=name, message=container_id)
