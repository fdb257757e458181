"""What the pod-sync hooks receive: one sync's context, and one container start or kill.

Plugins (kubert_inplace) read these and may call ``default()`` to do what the kubelet would
have done, before or after their own work. Contexts are frozen: a hook changes the plan by
returning a new value, never by mutating its argument.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from kubert.kubelet.actions import ProbeVerdicts
from kubert.kubelet.observe import ContainerRuntimeStatus, PodRuntimeStatus
from kubert.kubelet.pod import Container, Pod
from kubert.kubelet.runtime import RuntimeClient
from kubert.model import ContainerConfig, PodSandboxConfig

if TYPE_CHECKING:
    from kubert.kubelet.manager import RuntimeManager


def _as_tuple(items: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(items)


#: Receives one human-readable progress line ("Started container app").
Progress = Callable[[str], None]


def quiet(_: str) -> None:
    """A progress sink that drops the lines."""


@frozen(kw_only=True)
class StepResult:
    """The outcome of one step of a sync (the kubelet's SyncResult entries).

    :ivar action: StartContainer, KillContainer, CreatePodSandbox, KillPodSandbox, ResizeContainer.
    :ivar target: the container name or sandbox ID it acted on.
    :ivar error: "" on success, else the kubelet's reason (CrashLoopBackOff, ErrImagePull,
        CreateContainerError, RunContainerError, ...).
    """

    action: str
    target: str
    error: str = ""
    message: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


@frozen(kw_only=True)
class SyncResult:
    """Everything one sync did, in order."""

    steps: tuple[StepResult, ...] = field(default=(), converter=_as_tuple)
    sandbox_id: str = ""
    pod_ips: tuple[str, ...] = field(default=(), converter=_as_tuple)

    @property
    def errors(self) -> list[StepResult]:
        return [s for s in self.steps if not s.ok]


@frozen(kw_only=True)
class PodSyncContext:
    """One sync of one pod.

    :ivar pod: the desired pod.
    :ivar status: what the runtime held for it when the sync began.
    :ivar probes: the probe verdicts of this sync.
    :ivar runtime: the CRI client, for plugins that make their own calls.
    :ivar manager: the runtime manager running the sync; its ``start_container``,
        ``kill_container`` and ``container_config`` are the kubelet's own steps.
    :ivar progress: where to report progress lines.
    :ivar source: where the pod came from ("apply" or "file:<path>").
    """

    pod: Pod
    status: PodRuntimeStatus
    probes: ProbeVerdicts
    runtime: RuntimeClient
    manager: RuntimeManager
    progress: Progress
    source: str = "apply"


@frozen(kw_only=True)
class ContainerStart:
    """One container about to be created and started in a ready sandbox.

    :ivar spec: the container as the manifest describes it.
    :ivar kind: init, sidecar, regular or ephemeral.
    :ivar previous: the newest earlier container of that name (None on the first start).
    :ivar restart_count: the new container's restart count, also its attempt number.
    :ivar reason: why it starts: "first start", "restart", or the kill message that preceded it.
    """

    pod: Pod
    spec: Container
    kind: str
    sandbox_id: str
    sandbox_config: PodSandboxConfig
    pod_ips: tuple[str, ...]
    previous: ContainerRuntimeStatus | None
    restart_count: int
    reason: str
    runtime: RuntimeClient
    manager: RuntimeManager
    progress: Progress

    def config(self) -> ContainerConfig:
        """The ContainerConfig the kubelet would send for this start."""
        return self.manager.container_config(self)

    def default(self) -> str:
        """Do what the kubelet does (ensure image, create, start). :returns: the container ID."""
        return self.manager.default_start_container(self)


@frozen(kw_only=True)
class ContainerKill:
    """One running container about to be stopped.

    :ivar pod: the desired pod, or None when deleting a pod whose manifest is gone.
    :ivar container: the container as the runtime reports it.
    :ivar spec: its spec in ``pod`` (None when it is no longer in the pod).
    :ivar reason: SpecChanged, LivenessProbe, StartupProbe, NotInSpec, UnknownState,
        PodCompleted, SandboxChanged or Deleted.
    :ivar grace_period: seconds between SIGTERM and SIGKILL.
    """

    pod: Pod | None
    container: ContainerRuntimeStatus
    spec: Container | None
    reason: str
    message: str
    grace_period: int
    runtime: RuntimeClient
    manager: RuntimeManager
    progress: Progress

    def default(self) -> None:
        """Do what the kubelet does: StopContainer with the grace period."""
        self.manager.default_kill_container(self)
