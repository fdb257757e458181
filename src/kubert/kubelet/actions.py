"""Compute what one sync of a pod must do, by the kubelet's rules (its computePodActions).

Pure: it reads the pod, what the runtime holds for it and the probe verdicts, and returns a
:class:`PodActions`. Backoff is not decided here but where containers are started, as in the
kubelet, so a container in CrashLoopBackOff is still listed in ``containers_to_start``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from attrs import evolve, field, frozen

from kubert.kubelet import labels
from kubert.kubelet.edits import changed_fields, pod_shape
from kubert.kubelet.hashing import container_hash, pod_spec_hash
from kubert.kubelet.observe import ContainerRuntimeStatus, PodRuntimeStatus
from kubert.kubelet.pod import Container, Pod
from kubert.kubelet.resize import restart_needed
from kubert.kubelet.resources import container_resources, needs_resize
from kubert.model import (
    ContainerState,
    LinuxContainerResources,
    NamespaceMode,
    PodSandboxState,
    PodSandboxStatus,
)

#: ContainerToKill.reason values.
SPEC_CHANGED = "SpecChanged"
LIVENESS_PROBE = "LivenessProbe"
STARTUP_PROBE = "StartupProbe"
NOT_IN_SPEC = "NotInSpec"
UNKNOWN_STATE = "UnknownState"
POD_DONE = "PodCompleted"
SANDBOX_CHANGED = "SandboxChanged"
RESIZE_RESTART = "ResizeRestart"


def _as_tuple(items: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(items)


def _as_set(items: Iterable[str]) -> frozenset[str]:
    return frozenset(items)


@frozen(kw_only=True)
class ProbeVerdicts:
    """What the probes said about running containers, by container ID."""

    liveness_failed: frozenset[str] = field(default=frozenset(), converter=_as_set)
    startup_failed: frozenset[str] = field(default=frozenset(), converter=_as_set)
    #: Running containers whose startup probe has not yet succeeded.
    not_started: frozenset[str] = field(default=frozenset(), converter=_as_set)


@frozen(kw_only=True)
class ContainerToKill:
    """A running container that must stop, why (``reason`` is one of the constants above)."""

    container: ContainerRuntimeStatus
    spec: Container | None
    reason: str
    message: str

    @property
    def name(self) -> str:
        return self.container.name


@frozen(kw_only=True)
class ContainerResize:
    """A running container whose resources must change to ``resources``."""

    container: ContainerRuntimeStatus
    spec: Container
    resources: LinuxContainerResources


@frozen(kw_only=True)
class PodActions:
    """One sync's plan, as the kubelet's podActions. Containers are named, not indexed.

    :ivar kill_pod: stop every container and the sandbox(es) first.
    :ivar create_sandbox: then make a new sandbox with ``attempt``.
    :ivar sandbox_id: the sandbox the containers run in (the current one when kept).
    :ivar reasons: human sentences saying why the pod is killed or a sandbox made.
    """

    kill_pod: bool = False
    create_sandbox: bool = False
    sandbox_id: str = ""
    attempt: int = 0
    init_containers_to_start: tuple[str, ...] = field(default=(), converter=_as_tuple)
    containers_to_start: tuple[str, ...] = field(default=(), converter=_as_tuple)
    ephemeral_containers_to_start: tuple[str, ...] = field(default=(), converter=_as_tuple)
    containers_to_kill: tuple[ContainerToKill, ...] = field(default=(), converter=_as_tuple)
    containers_to_resize: tuple[ContainerResize, ...] = field(default=(), converter=_as_tuple)
    reasons: tuple[str, ...] = field(default=(), converter=_as_tuple)

    @property
    def is_noop(self) -> bool:
        return not (
            self.kill_pod
            or self.create_sandbox
            or self.init_containers_to_start
            or self.containers_to_start
            or self.ephemeral_containers_to_start
            or self.containers_to_kill
            or self.containers_to_resize
        )


def restarts_on_failure(pod: Pod) -> bool:
    return pod.spec.restart_policy != "Never"


def should_restart(container: Container, pod: Pod, status: PodRuntimeStatus) -> bool:
    """The kubelet's ShouldContainerBeRestarted, for a container that is not running."""
    current = status.find(container.name)
    if current is None:
        return True
    if current.state == ContainerState.CONTAINER_RUNNING:
        return False
    if current.state in (ContainerState.CONTAINER_UNKNOWN, ContainerState.CONTAINER_CREATED):
        return True
    if container.is_sidecar:
        return True
    if pod.spec.restart_policy == "Never":
        return False
    return not (pod.spec.restart_policy == "OnFailure" and current.exit_code == 0)


def sandbox_changed(
    pod: Pod, status: PodRuntimeStatus, expect_ip: bool = True
) -> tuple[bool, int, str, str]:
    """Whether the pod needs a new sandbox: ``(changed, attempt, current id, reason)``.

    :param expect_ip: whether a sandbox without an IP counts as broken.
    """
    if not status.sandboxes:
        return True, 0, "", "no sandbox exists"
    sandbox = status.sandboxes[0]
    attempt = sandbox.metadata.attempt + 1
    ready = [s for s in status.sandboxes if s.state == PodSandboxState.SANDBOX_READY]
    if len(ready) > 1:
        return True, attempt, sandbox.id, f"{len(ready)} sandboxes are ready; one is wanted"
    if sandbox.state != PodSandboxState.SANDBOX_READY:
        return True, attempt, sandbox.id, "the sandbox is not ready"
    wanted_network = NamespaceMode.NODE if pod.spec.host_network else NamespaceMode.POD
    if sandbox.linux.namespaces.options.network != wanted_network:
        return True, attempt, "", "the pod's network namespace changed"
    if expect_ip and not pod.spec.host_network and not status.ips:
        return True, attempt, sandbox.id, "the sandbox has no IP"
    recorded = sandbox.annotations.get(labels.POD_SPEC_HASH)
    if recorded is not None and recorded != pod_spec_hash(pod):
        return True, attempt, sandbox.id, _replacement_reason(pod, sandbox)
    return False, sandbox.metadata.attempt, sandbox.id, ""


def _replacement_reason(pod: Pod, sandbox: PodSandboxStatus) -> str:
    """Why the pod is replaced, naming the changed fields when the sandbox recorded its spec."""
    try:
        before = json.loads(sandbox.annotations.get(labels.POD_SPEC, ""))
    except ValueError:
        before = None
    changed = changed_fields(before, pod_shape(pod)) if isinstance(before, dict) else []
    what = ", ".join(changed) if changed else "the pod spec beyond images and resources"
    return f"only a new pod can take changes to {what}; the pod is replaced as a whole"


def _succeeded(container: Container, status: PodRuntimeStatus) -> bool:
    current = status.find(container.name)
    return (
        current is not None
        and current.state == ContainerState.CONTAINER_EXITED
        and current.exit_code == 0
    )


def compute_pod_actions(
    pod: Pod,
    status: PodRuntimeStatus,
    probes: ProbeVerdicts | None = None,
    *,
    expect_ip: bool = True,
) -> PodActions:
    """The kubelet's computePodActions: what this sync must do to converge ``pod``.

    :param expect_ip: whether a sandbox without an IP must be re-made (see sandbox_changed).
    """
    probes = probes or ProbeVerdicts()
    changed, attempt, sandbox_id, why = sandbox_changed(pod, status, expect_ip)
    if changed:
        return _fresh_sandbox(pod, status, attempt, sandbox_id, why)

    # Init containers look at this sandbox's containers only: a new sandbox runs its init
    # sequence again even though an older sandbox's ran to completion. Restart decisions of
    # regular containers see every status of the pod, as the kubelet's do: a container that
    # succeeded in an older sandbox stays done under OnFailure.
    here = status.in_sandbox(sandbox_id)
    kills: list[ContainerToKill] = []
    starts: list[str] = []
    init_starts: list[str] = []
    ephemeral = [c.name for c in pod.spec.ephemeral_containers if here.find(c.name) is None]
    initialized, kill_pod = _init_actions(pod, here, probes, init_starts, kills)
    reasons: list[str] = []
    if kill_pod:
        reasons.append("an init container failed and the restart policy is Never")
        return PodActions(
            kill_pod=True,
            sandbox_id=sandbox_id,
            attempt=attempt,
            containers_to_kill=kills,
            reasons=reasons,
        )
    resizes: list[ContainerResize] = []
    keep = 0
    if initialized:
        for container in pod.spec.containers:
            current = status.find(container.name)
            if current is None or not current.running:
                if should_restart(container, pod, status):
                    starts.append(container.name)
                    if current is not None and current.state == ContainerState.CONTAINER_UNKNOWN:
                        kills.append(
                            ContainerToKill(
                                container=current,
                                spec=container,
                                reason=UNKNOWN_STATE,
                                message="container is in an unknown state; will be restarted",
                            )
                        )
                continue
            kill = _kill_for(container, current, probes)
            if kill is None:
                kill = _resize_for(container, current, resizes)
            if kill is None:
                keep += 1
                continue
            if kill.reason in (SPEC_CHANGED, RESIZE_RESTART) or restarts_on_failure(pod):
                starts.append(container.name)
                kill = evolve(kill, message=kill.message + "; will be restarted")
            kills.append(kill)
    if initialized:
        # Sidecars are resized like regular containers (KEP-1287, 1.35).
        for container in pod.spec.init_containers:
            current = here.find(container.name)
            if not container.is_sidecar or current is None or not current.running:
                continue
            if any(k.name == container.name for k in kills) or container.name in init_starts:
                continue
            kill = _resize_for(container, current, resizes)
            if kill is not None:
                kills.append(kill)
                init_starts.append(container.name)
    wanted_names = {c.name for c in pod.all_containers()}
    for current in status.running_containers():
        if current.name not in wanted_names and current.sandbox_id == sandbox_id:
            kills.append(
                ContainerToKill(
                    container=current,
                    spec=None,
                    reason=NOT_IN_SPEC,
                    message=f"container {current.name} is no longer in the pod spec",
                )
            )
    if initialized and keep == 0 and not starts and pod.spec.containers:
        # Every regular container has finished for good: the pod is done; stop the sandbox
        # (and the sidecars in it).
        kills = [k for k in kills if k.reason != NOT_IN_SPEC]
        return PodActions(
            kill_pod=True,
            sandbox_id=sandbox_id,
            attempt=attempt,
            containers_to_kill=kills,
            reasons=["every container has terminated and none will be restarted"],
        )
    return PodActions(
        sandbox_id=sandbox_id,
        attempt=attempt,
        init_containers_to_start=init_starts,
        containers_to_start=starts,
        ephemeral_containers_to_start=ephemeral,
        containers_to_kill=kills,
        containers_to_resize=resizes,
    )


def _fresh_sandbox(
    pod: Pod, status: PodRuntimeStatus, attempt: int, sandbox_id: str, why: str
) -> PodActions:
    reasons = [f"a new sandbox is needed: {why}"]
    if not restarts_on_failure(pod) and attempt != 0 and status.containers:
        # restartPolicy Never: the containers ran once; a lost sandbox is not re-made.
        return PodActions(
            kill_pod=True,
            create_sandbox=False,
            sandbox_id=sandbox_id,
            attempt=attempt,
            reasons=[*reasons, "not re-created: restartPolicy is Never and containers have run"],
        )
    starts = [
        c.name
        for c in pod.spec.containers
        if not (pod.spec.restart_policy == "OnFailure" and _succeeded(c, status))
    ]
    # As the kubelet, before the init-container branch: a pod that was initialized once and
    # has nothing left to start is done, and its init containers do not run again.
    if not starts and any(status.find(c.name) is not None for c in pod.spec.containers):
        return PodActions(
            kill_pod=True,
            create_sandbox=False,
            sandbox_id=sandbox_id,
            attempt=attempt,
            reasons=[*reasons, "not re-created: every container has succeeded"],
        )
    if pod.spec.init_containers:
        return PodActions(
            kill_pod=True,
            create_sandbox=True,
            sandbox_id=sandbox_id,
            attempt=attempt,
            init_containers_to_start=(pod.spec.init_containers[0].name,),
            reasons=reasons,
        )
    return PodActions(
        kill_pod=True,
        create_sandbox=True,
        sandbox_id=sandbox_id,
        attempt=attempt,
        containers_to_start=starts,
        reasons=reasons,
    )


def _kill_for(
    container: Container, current: ContainerRuntimeStatus, probes: ProbeVerdicts
) -> ContainerToKill | None:
    """Why a running container must be killed (spec changed, probe failed), or None."""
    if current.hash and current.hash != container_hash(container):
        reason, what = SPEC_CHANGED, "definition changed"
    elif current.id in probes.liveness_failed:
        reason, what = LIVENESS_PROBE, "failed liveness probe"
    elif current.id in probes.startup_failed:
        reason, what = STARTUP_PROBE, "failed startup probe"
    else:
        return None
    return ContainerToKill(
        container=current,
        spec=container,
        reason=reason,
        message=f"container {container.name} {what}",
    )


def _resize_for(
    container: Container, current: ContainerRuntimeStatus, resizes: list[ContainerResize]
) -> ContainerToKill | None:
    """A resource change of a running container: a resize in place (added to ``resizes``), or,
    when a changed resource's resizePolicy is RestartContainer, a kill (and restart)."""
    wanted = container_resources(container)
    if not needs_resize(current.resources, wanted):
        return None
    if restart_needed(container.resize_policy, current.resources, wanted):
        return ContainerToKill(
            container=current,
            spec=container,
            reason=RESIZE_RESTART,
            message=f"container {container.name} resize requires restart (resizePolicy)",
        )
    resizes.append(ContainerResize(container=current, spec=container, resources=wanted))
    return None


def _init_actions(
    pod: Pod,
    status: PodRuntimeStatus,
    probes: ProbeVerdicts,
    starts: list[str],
    kills: list[ContainerToKill],
) -> tuple[bool, bool]:
    """Init containers in order, one at a time; sidecars kept running.

    :returns: ``(initialized, kill_pod)``: whether regular containers may run, and whether
        a failed init container ends the pod.
    """
    inits = pod.spec.init_containers
    if not inits:
        return True, False
    previously = any(status.find(c.name) is not None for c in pod.spec.containers)
    for container in inits:
        current = status.find(container.name)
        if current is None:
            if previously:
                if container.is_sidecar:
                    starts.append(container.name)
                continue
            starts.append(container.name)
            return False, False
        if previously and not container.is_sidecar:
            continue
        state = current.state
        if state == ContainerState.CONTAINER_RUNNING:
            if not container.is_sidecar:
                return False, False
            kill = _kill_for(container, current, probes)
            if kill is not None:
                kills.append(kill)
                starts.append(container.name)
                if not previously:
                    return False, False
                continue
            if current.id in probes.not_started and not previously:
                return False, False
            continue
        if state == ContainerState.CONTAINER_EXITED and not container.is_sidecar:
            if current.exit_code == 0:
                continue
            if not restarts_on_failure(pod):
                return False, True
            starts.append(container.name)
            return False, False
        # an exited sidecar, or a container left CREATED / UNKNOWN: start it again
        if state != ContainerState.CONTAINER_EXITED:
            kills.append(
                ContainerToKill(
                    container=current,
                    spec=container,
                    reason=UNKNOWN_STATE,
                    message=f"init container {container.name} is in state {state.name}",
                )
            )
        starts.append(container.name)
        if not previously:
            return False, False
    return True, False
