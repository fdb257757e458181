"""The runtime manager: SyncPod over a CRI client, in the kubelet's order, through the hooks.

:class:`RuntimeManager` is the facade (the kubelet's kubeGenericRuntimeManager): it holds the
node-wide state — backoff, exit times, image puller, probes, waiting reasons — and its methods
are the steps plugins and the pod commands call. The work lives along kuberuntime's seams:

- :mod:`kubert.kubelet.podsync` — one sync: observe, probe, compute actions
  (``kubert_compute_pod_actions`` may replace them), ``kubert_sync_pod`` and its default steps;
- :mod:`kubert.kubelet.starting` — starting a container (back-off, config, create, start), through
  ``kubert_start_container``;
- :mod:`kubert.kubelet.killing` — stopping a container or a pod, through ``kubert_kill_container``;
- :mod:`kubert.kubelet.garbage` — removing dead containers, old sandboxes and deleted pods.
"""

from __future__ import annotations

import pluggy
from attrs import define, field

from kubert.kubelet import garbage, killing, plugin, podsync, starting, volumes
from kubert.kubelet.actions import PodActions
from kubert.kubelet.backoff import Backoff
from kubert.kubelet.clock import Clock, SystemClock
from kubert.kubelet.context import (
    ContainerKill,
    ContainerStart,
    PodSyncContext,
    Progress,
    StepResult,
    SyncResult,
    quiet,
)
from kubert.kubelet.images import ImagePuller
from kubert.kubelet.observe import ContainerRuntimeStatus, PodRuntimeStatus, observe_pod
from kubert.kubelet.pod import Container, Pod
from kubert.kubelet.podlock import pod_lock
from kubert.kubelet.probes import ProbeManager
from kubert.kubelet.runtime import RuntimeClient
from kubert.kubelet.settings import KubeletConfig
from kubert.model import ContainerConfig


@define
class RuntimeManager:
    """Syncs pods to a CRI runtime; holds the node-wide backoff, image and probe state.

    :param runtime: any CRI client (:class:`~kubert.kubelet.RuntimeClient`).
    :param pm: the plugin manager whose pod-sync hooks apply (a PluginHost's ``pm``); the
        kubelet layer (its hookspecs and default implementations) is registered on it if
        missing.
    """

    runtime: RuntimeClient
    config: KubeletConfig = field(factory=KubeletConfig)
    clock: Clock = field(factory=SystemClock)
    pm: pluggy.PluginManager = field(factory=plugin.new_plugin_manager)
    backoff: Backoff = field(init=False)
    images: ImagePuller = field(init=False)
    probes: ProbeManager = field(init=False)
    #: When kubert first saw each exited container: the backoff's event time.
    exit_seen: dict[str, float] = field(init=False, factory=dict)
    #: Waiting reason and message per (pod uid, container name) from the last failed start.
    waiting: dict[tuple[str, str], tuple[str, str]] = field(init=False, factory=dict)
    #: The last sync's resize outcome per pod uid: (condition type, reason, message) or None.
    resize_status: dict[str, tuple[str, str, str] | None] = field(init=False, factory=dict)
    #: Whether sandboxes without an IP are re-made (see KubeletConfig.expect_pod_ip).
    expect_pod_ip: bool = field(init=False, default=True)

    def __attrs_post_init__(self) -> None:
        self.expect_pod_ip = self.config.expect_pod_ip is not False
        self.backoff = Backoff(clock=self.clock)
        self.images = ImagePuller(self.runtime, self.config, self.clock)
        self.probes = ProbeManager(self.runtime, self.clock)
        plugin.register(self.pm)

    # ---- one sync (kubert.kubelet.podsync) ------------------------------------------------

    def observe(self, uid: str) -> PodRuntimeStatus:
        """What the runtime holds for pod ``uid``."""
        return observe_pod(self.runtime, uid)

    def sync_pod(
        self, pod: Pod, *, source: str = "apply", progress: Progress = quiet
    ) -> SyncResult:
        """One sync of ``pod``: observe, probe, compute actions, carry them out.

        The pod's ConfigMap / Secret / downward API volumes are brought up to date first, so
        an edited object reaches running containers (the kubelet's periodic remount). Syncs
        and deletes of one pod run one at a time, across processes (the pod's lock).
        """
        with pod_lock(self.config.root_dir, pod.uid):
            volumes.refresh_pod(self.config, pod)
            return podsync.sync_pod(self, pod, source, progress)

    def default_sync_pod(self, context: PodSyncContext, actions: PodActions) -> SyncResult:
        """The kubelet's SyncPod steps after compute (the layer's own ``kubert_sync_pod``)."""
        return podsync.default_sync_pod(self, context, actions)

    # ---- starting containers (kubert.kubelet.starting) ---------------------------------------

    def backoff_key(self, pod: Pod, spec: Container) -> str:
        """The kubelet's stable backoff key: a changed spec starts a fresh backoff."""
        return starting.backoff_key(pod, spec)

    def crash_backoff(
        self, pod: Pod, spec: Container, previous: ContainerRuntimeStatus | None
    ) -> str:
        """The kubelet's doBackOff: "" when ``spec`` may start now, else the back-off message.

        The backoff counts from when kubert first saw the previous container exited.
        """
        return starting.crash_backoff(self, pod, spec, previous)

    def start_container(self, start: ContainerStart) -> str:
        """Start one container through ``kubert_start_container``. :returns: its ID."""
        return starting.start_container(self, start)

    def container_config(self, start: ContainerStart) -> ContainerConfig:
        """The ContainerConfig for ``start`` (volumes and /etc/hosts are made on the way)."""
        return starting.build_container_config(self, start)

    def default_start_container(self, start: ContainerStart) -> str:
        """The kubelet's startContainer: image, config, CreateContainer, StartContainer."""
        return starting.default_start_container(self, start)

    # ---- killing (kubert.kubelet.killing) ----------------------------------------------------

    def grace_period(
        self,
        pod: Pod | None,
        container: ContainerRuntimeStatus,
        spec: Container | None,
        reason: str,
    ) -> int:
        """Seconds of grace: the probe's own on probe failure, else the pod's; at least 2."""
        return killing.grace_period(self, pod, container, spec, reason)

    def kill_container(
        self,
        pod: Pod | None,
        container: ContainerRuntimeStatus,
        spec: Container | None,
        reason: str,
        message: str,
        progress: Progress = quiet,
        grace_period: int | None = None,
    ) -> StepResult:
        """Stop one container through ``kubert_kill_container`` (with ``grace_period`` seconds
        when given, else :meth:`grace_period`'s)."""
        return killing.kill_container(
            self, pod, container, spec, reason, message, progress, grace_period
        )

    def default_kill_container(self, kill: ContainerKill) -> None:
        """StopContainer with the grace period; an already-gone container is fine."""
        killing.default_kill_container(self, kill)

    def kill_pod(
        self,
        pod: Pod | None,
        status: PodRuntimeStatus,
        reason: str,
        progress: Progress = quiet,
        grace_period: int | None = None,
    ) -> list[StepResult]:
        """Stop every running container (regular ones in parallel, then sidecars in reverse
        order) within one grace budget (``grace_period`` overrides the pod's), then every
        ready sandbox of the pod."""
        return killing.kill_pod(self, pod, status, reason, progress, grace_period)

    # ---- garbage (kubert.kubelet.garbage) -------------------------------------------------

    def delete_pod(
        self,
        uid: str,
        pod: Pod | None = None,
        progress: Progress = quiet,
        grace_period: int | None = None,
    ) -> list[StepResult]:
        """Kill the pod (``grace_period``: the deletion's, overriding the pod's), remove its
        containers and sandboxes, and its directory."""
        with pod_lock(self.config.root_dir, uid):
            status = self.observe(uid)
            steps = self.kill_pod(pod, status, "Deleted", progress, grace_period)
            garbage.remove_pod(self, uid, pod, status, progress)
            self.probes.forget_pod(uid)
        return steps

    def collect_garbage(self, pod: Pod, status: PodRuntimeStatus) -> None:
        """Per container name keep the newest instance and the newest dead one (the kubelet's
        MaxPerPodContainer of 1: its logs, exit code and ``logs --previous``), remove older
        dead ones, and remove old sandboxes left without containers."""
        garbage.collect_garbage(self, pod, status)
