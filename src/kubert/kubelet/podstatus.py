"""A pod's API-style status computed from CRI state: phase, container states, the STATUS column.

The phase follows the kubelet's getPhase; the one-word status follows kubectl's printer
(``Init:1/2``, ``CrashLoopBackOff``, ``Completed``, ``Running``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from attrs import field, frozen

from kubert.kubelet import podconditions
from kubert.kubelet.actions import should_restart
from kubert.kubelet.lifecycle import termination_message
from kubert.kubelet.nodeinfo import node_ips
from kubert.kubelet.observe import ContainerRuntimeStatus, PodRuntimeStatus
from kubert.kubelet.pod import Container, Pod
from kubert.kubelet.podconditions import ConditionRecord, PodCondition
from kubert.model import ContainerState, PodSandboxState

PENDING = "Pending"
RUNNING = "Running"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
UNKNOWN = "Unknown"


def _as_tuple(items: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(items)


@frozen(kw_only=True)
class ContainerView:
    """One container's status as ``kubectl describe`` shows it.

    :ivar state: waiting, running or terminated.
    :ivar last_state: the previous instance's termination ("" when none), e.g. "Error (exit 3)".
    """

    name: str
    kind: str
    state: str
    reason: str = ""
    message: str = ""
    exit_code: int = 0
    started_at: int = 0
    finished_at: int = 0
    restart_count: int = 0
    ready: bool = False
    image: str = ""
    image_ref: str = ""
    container_id: str = ""
    log_path: str = ""
    last_state: str = ""


@frozen(kw_only=True)
class PodView:
    """A pod's status: what ``kubert get pods`` and ``kubert describe pod`` print."""

    uid: str
    name: str
    namespace: str
    phase: str
    status: str
    ready: int
    total: int
    restarts: int
    ips: tuple[str, ...] = field(default=(), converter=_as_tuple)
    sandbox_id: str = ""
    sandbox_ready: bool = False
    created_at: int = 0
    init_containers: tuple[ContainerView, ...] = field(default=(), converter=_as_tuple)
    containers: tuple[ContainerView, ...] = field(default=(), converter=_as_tuple)
    ephemeral_containers: tuple[ContainerView, ...] = field(default=(), converter=_as_tuple)
    conditions: tuple[PodCondition, ...] = field(default=(), converter=_as_tuple)

    @property
    def all_containers(self) -> tuple[ContainerView, ...]:
        return self.init_containers + self.containers + self.ephemeral_containers


def _terminated_text(current: ContainerRuntimeStatus) -> str:
    reason = current.status.reason or ("Completed" if current.exit_code == 0 else "Error")
    return f"{reason} (exit code {current.exit_code})"


def _view(
    pod: Pod | None,
    spec: Container | None,
    name: str,
    kind: str,
    current: ContainerRuntimeStatus | None,
    previous: ContainerRuntimeStatus | None,
    waiting: Mapping[str, tuple[str, str]],
    sandbox_ready: bool,
    default_waiting: str,
    readiness: Mapping[str, bool],
) -> ContainerView:
    image = spec.image if spec is not None else ""
    last = _terminated_text(previous) if previous is not None else ""
    if current is None:
        reason, message = waiting.get(name, (default_waiting, ""))
        return ContainerView(
            name=name, kind=kind, state="waiting", reason=reason, message=message, image=image
        )
    common: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "restart_count": current.restart_count,
        "image": image or current.status.image.image,
        "image_ref": current.status.image_ref,
        "container_id": current.id,
        "log_path": current.status.log_path,
        "started_at": current.status.started_at,
    }
    state = current.state
    if state == ContainerState.CONTAINER_RUNNING:
        # Ready as the prober said; unknown: ready unless a readiness or startup probe must
        # pass first.
        probed = spec is not None and (spec.readiness_probe or spec.startup_probe) is not None
        ready = sandbox_ready and readiness.get(current.id, not probed)
        return ContainerView(state="running", ready=ready, last_state=last, **common)
    if state == ContainerState.CONTAINER_EXITED:
        restarting = (
            pod is not None
            and spec is not None
            and sandbox_ready
            and kind != "ephemeral"
            and should_restart(spec, pod, PodRuntimeStatus(uid=pod.uid, containers=(current,)))
        )
        if restarting and name in waiting:
            reason, message = waiting[name]
            return ContainerView(
                state="waiting",
                reason=reason,
                message=message,
                last_state=_terminated_text(current),
                **common,
            )
        return ContainerView(
            state="terminated",
            reason=current.status.reason or ("Completed" if current.exit_code == 0 else "Error"),
            message=termination_message(
                current.status.annotations, current.exit_code, current.status.log_path,
                current.status.message,
            ),
            exit_code=current.exit_code,
            finished_at=current.status.finished_at,
            last_state=last,
            **common,
        )
    reason, message = waiting.get(name, ("ContainerCreating", ""))
    return ContainerView(state="waiting", reason=reason, message=message, last_state=last, **common)


def pod_view(
    pod: Pod | None,
    status: PodRuntimeStatus,
    waiting: Mapping[str, tuple[str, str]] | None = None,
    readiness: Mapping[str, bool] | None = None,
    previous: ConditionRecord | None = None,
    now: float = 0.0,
) -> PodView:
    """The status of ``pod`` (or of whatever the runtime holds, when the manifest is unknown).

    :param waiting: the last sync's waiting reason and message per container name.
    :param readiness: the prober's readiness by container ID (see ProbeManager.ready).
    :param previous: the conditions recorded last, whose transition times are kept.
    :param now: the time a changed condition transitioned.
    """
    waiting = waiting or {}
    readiness = readiness or (previous.ready if previous is not None else {})
    sandbox = status.sandbox
    sandbox_ready = sandbox is not None and sandbox.state == PodSandboxState.SANDBOX_READY
    scope = status.in_sandbox(sandbox.id) if sandbox is not None else status

    def views(
        specs: Iterable[tuple[str, str, Container | None]], default: str
    ) -> list[ContainerView]:
        out = []
        for name, kind, spec in specs:
            instances = scope.all_named(name) or status.all_named(name)[:1]
            current = instances[0] if instances else None
            before = instances[1] if len(instances) > 1 else None
            out.append(
                _view(
                    pod, spec, name, kind, current, before, waiting, sandbox_ready, default,
                    readiness,
                )
            )
        return out

    init_specs: list[tuple[str, str, Container | None]]
    regular_specs: list[tuple[str, str, Container | None]]
    ephemeral_specs: list[tuple[str, str, Container | None]]
    if pod is not None:
        init_specs = [
            (c.name, "sidecar" if c.is_sidecar else "init", c) for c in pod.spec.init_containers
        ]
        regular_specs = [(c.name, "regular", c) for c in pod.spec.containers]
        ephemeral_specs = [(c.name, "ephemeral", c) for c in pod.spec.ephemeral_containers]
    else:
        seen: dict[str, str] = {}
        for c in reversed(status.containers):
            seen[c.name] = c.kind or "regular"
        init_specs = [(n, k, None) for n, k in seen.items() if k in ("init", "sidecar")]
        regular_specs = [(n, k, None) for n, k in seen.items() if k == "regular"]
        ephemeral_specs = [(n, k, None) for n, k in seen.items() if k == "ephemeral"]
    init_views = views(init_specs, "PodInitializing")
    init_done = all(
        v.kind == "sidecar" or (v.state == "terminated" and v.exit_code == 0) for v in init_views
    )
    regular_views = views(regular_specs, "ContainerCreating" if init_done else "PodInitializing")
    ephemeral_views = views(ephemeral_specs, "ContainerCreating")
    restart_policy = pod.spec.restart_policy if pod is not None else "Always"
    phase = _phase(init_views, regular_views, restart_policy, sandbox is not None)
    counted = regular_views + [v for v in init_views if v.kind == "sidecar"]
    created = min((s.created_at for s in status.sandboxes), default=0)
    host_network = pod is not None and pod.spec.host_network
    judged = podconditions.judge(
        sandbox_ready=sandbox_ready,
        init_pending=[
            v.name for v in init_views
            if not (v.state == "terminated" and v.exit_code == 0)
            and not (v.kind == "sidecar" and v.state == "running")
        ],
        unready=[v.name for v in counted if not v.ready],
        completed=phase in (SUCCEEDED, FAILED),
    )
    conditions = podconditions.stamp(
        judged, previous.by_type() if previous is not None else {}, now
    )
    return PodView(
        uid=status.uid,
        name=pod.name if pod is not None else status.name,
        namespace=pod.namespace if pod is not None else status.namespace,
        phase=phase,
        status=_display(phase, init_views, regular_views, sandbox_ready),
        ready=sum(1 for v in counted if v.ready),
        total=len(counted),
        restarts=sum(v.restart_count for v in counted),
        ips=node_ips() if host_network and sandbox_ready else status.ips,
        sandbox_id=sandbox.id if sandbox is not None else "",
        sandbox_ready=sandbox_ready,
        created_at=created,
        init_containers=init_views,
        containers=regular_views,
        ephemeral_containers=ephemeral_views,
        conditions=conditions,
    )



def _phase(
    init_views: list[ContainerView],
    regular_views: list[ContainerView],
    restart_policy: str,
    has_sandbox: bool,
) -> str:
    if not has_sandbox:
        return PENDING
    for view in init_views:
        if view.kind == "sidecar":
            continue
        if view.state == "terminated" and view.exit_code == 0:
            continue
        failed = view.state == "terminated" or bool(view.last_state)
        if failed and restart_policy == "Never":
            return FAILED
        return PENDING
    running = waiting = stopped = succeeded = 0
    for view in regular_views:
        if view.state == "running":
            running += 1
        elif view.state == "terminated":
            stopped += 1
            succeeded += view.exit_code == 0
        elif view.last_state:
            stopped += 1
        else:
            waiting += 1
    if waiting:
        return PENDING
    if running:
        return RUNNING
    if stopped:
        if restart_policy == "Always":
            return RUNNING
        if stopped == succeeded:
            return SUCCEEDED
        if restart_policy == "Never":
            return FAILED
        return RUNNING
    return PENDING


def _display(
    phase: str,
    init_views: list[ContainerView],
    regular_views: list[ContainerView],
    sandbox_ready: bool,
) -> str:
    init_needed = [v for v in init_views if v.kind != "sidecar"]
    for index, view in enumerate(init_needed):
        if view.state == "terminated" and view.exit_code == 0:
            continue
        if view.state == "terminated":
            return f"Init:{view.reason or 'Error'}"
        if view.state == "waiting" and view.reason not in ("", "PodInitializing"):
            return f"Init:{view.reason}"
        return f"Init:{index}/{len(init_needed)}"
    reason = phase
    running = False
    for view in reversed(regular_views):
        if view.state == "waiting" and view.reason:
            reason = view.reason
        elif view.state == "terminated":
            reason = view.reason or f"ExitCode:{view.exit_code}"
        elif view.state == "running":
            running = True
    if reason == "Completed" and running:
        reason = RUNNING
    if phase == RUNNING and not sandbox_ready and reason == RUNNING:
        reason = "NotReady"
    return reason
