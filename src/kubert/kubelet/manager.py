"""The runtime manager: SyncPod over a CRI client, in the kubelet's order, through the hooks.

One sync: observe the pod, run its probes, compute actions (``kubert_compute_pod_actions`` may
replace them), then ``kubert_sync_pod`` whose core implementation runs the kubelet's steps:
kill the pod if needed, else kill unwanted containers; create the sandbox and read its IPs;
ephemeral containers; init containers one at a time; resize; regular containers. Every start
and kill goes through ``kubert_start_container`` / ``kubert_kill_container``.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from concurrent.futures import ThreadPoolExecutor

import pluggy
from attrs import define, field

from kubert.errors import KubertError, NotFoundError, UnimplementedError
from kubert.kubelet import labels, plugin
from kubert.kubelet.actions import (
    LIVENESS_PROBE,
    POD_DONE,
    SANDBOX_CHANGED,
    STARTUP_PROBE,
    ContainerResize,
    PodActions,
    compute_pod_actions,
)
from kubert.kubelet.backoff import Backoff
from kubert.kubelet.clock import Clock, SystemClock
from kubert.kubelet.context import (
    ContainerKill,
    ContainerStart,
    PodSyncContext,
    Progress,
    StepResult,
    SyncResult,
)
from kubert.kubelet.criconfigs import (
    container_config,
    container_kind,
    ensure_volume_dirs,
    pod_log_dir,
    sandbox_config,
    write_etc_hosts,
)
from kubert.kubelet.hashing import container_hash
from kubert.kubelet.images import ImagePuller, ImagePullError
from kubert.kubelet.observe import ContainerRuntimeStatus, PodRuntimeStatus, observe_pod
from kubert.kubelet.pod import Container, Pod
from kubert.kubelet.probes import ProbeManager
from kubert.kubelet.runtime import RuntimeClient
from kubert.kubelet.settings import KubeletConfig
from kubert.model import (
    ContainerConfig,
    ContainerFilter,
    ContainerState,
    PodSandboxConfig,
    PodSandboxState,
)

log = logging.getLogger(__name__)

CRASH_LOOP_BACK_OFF = "CrashLoopBackOff"
CREATE_CONFIG_ERROR = "CreateContainerConfigError"
CREATE_ERROR = "CreateContainerError"
RUN_ERROR = "RunContainerError"


class StartError(KubertError):
    """A container could not be created or started; ``reason`` is the kubelet's waiting reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _quiet(_: str) -> None:
    """A progress sink that drops the lines."""


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
    _exit_seen: dict[str, float] = field(init=False, factory=dict)
    #: Waiting reason and message per (pod uid, container name) from the last failed start.
    waiting: dict[tuple[str, str], tuple[str, str]] = field(init=False, factory=dict)
    #: Whether sandboxes without an IP are re-made (see KubeletConfig.expect_pod_ip).
    expect_pod_ip: bool = field(init=False, default=True)

    def __attrs_post_init__(self) -> None:
        self.expect_pod_ip = self.config.expect_pod_ip is not False
        self.backoff = Backoff(clock=self.clock)
        self.images = ImagePuller(self.runtime, self.config, self.clock)
        self.probes = ProbeManager(self.runtime, self.clock)
        plugin.register(self.pm)

    # ---- one sync ------------------------------------------------------------------------

    def observe(self, uid: str) -> PodRuntimeStatus:
        """What the runtime holds for pod ``uid``."""
        return observe_pod(self.runtime, uid)

    def sync_pod(
        self, pod: Pod, *, source: str = "apply", progress: Progress = _quiet
    ) -> SyncResult:
        """One sync of ``pod``: observe, probe, compute actions, carry them out."""
        status = self.observe(pod.uid)
        verdicts = self.probes.run(pod, status)
        context = PodSyncContext(
            pod=pod,
            status=status,
            probes=verdicts,
            runtime=self.runtime,
            manager=self,
            progress=progress,
            source=source,
        )
        actions = compute_pod_actions(pod, status, verdicts, expect_ip=self.expect_pod_ip)
        replaced = self.pm.hook.kubert_compute_pod_actions(context=context, actions=actions)
        if replaced is not None:
            actions = replaced
        result: SyncResult = self.pm.hook.kubert_sync_pod(context=context, actions=actions)
        self.collect_garbage(pod, self.observe(pod.uid) if result.steps else status)
        return result

    def default_sync_pod(self, context: PodSyncContext, actions: PodActions) -> SyncResult:
        """The kubelet's SyncPod steps after compute (the core's ``kubert_sync_pod``)."""
        pod, status, progress = context.pod, context.status, context.progress
        steps: list[StepResult] = []
        # Step 2: kill the pod if its sandbox must go; else step 3: kill unwanted containers.
        if actions.kill_pod:
            verb = "Killing pod" if status.sandboxes else "Creating pod"
            for reason in actions.reasons:
                progress(f"{verb} {pod.full_name}: {reason}")
            kill_reason = SANDBOX_CHANGED if actions.create_sandbox else POD_DONE
            steps += self.kill_pod(pod, status, kill_reason, progress=progress)
            if any(not s.ok for s in steps):
                return SyncResult(steps=steps)
        else:
            for kill in actions.containers_to_kill:
                step = self.kill_container(
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
        sandbox_cfg = sandbox_config(self.config, pod, actions.attempt, context.source)
        sandbox_id = actions.sandbox_id
        pod_ips = status.ips
        if actions.create_sandbox:
            pod_log_dir(self.config, pod).mkdir(parents=True, exist_ok=True)
            progress(f"Creating sandbox for pod {pod.full_name} (attempt {actions.attempt})")
            try:
                sandbox_id = self.runtime.run_pod_sandbox(sandbox_cfg, self.config.runtime_handler)
                created = self.runtime.pod_sandbox_status(sandbox_id)
            except KubertError as exc:
                steps.append(
                    StepResult(
                        action="CreatePodSandbox",
                        target=pod.name,
                        error="CreatePodSandboxError",
                        message=str(exc),
                    )
                )
                progress(f"Failed to create sandbox: {exc}")
                return SyncResult(steps=steps)
            steps.append(StepResult(action="CreatePodSandbox", target=sandbox_id))
            network = created.network
            pod_ips = (
                (network.ip, *(x.ip for x in network.additional_ips))
                if network and network.ip
                else ()
            )
            if not pod.spec.host_network and self.config.expect_pod_ip is None:
                # A fresh sandbox without an IP means the runtime's network hands out none
                # (noop): re-making sandboxes for it would loop. One with an IP: expect them.
                self.expect_pod_ip = bool(pod_ips)
            shown = ", ".join(pod_ips) or ("host network" if pod.spec.host_network else "none")
            progress(f"Sandbox {sandbox_id[:13]} created, IP {shown}")
            # A fresh sandbox: decisions below see none of the old sandbox's containers.
            status = status.in_sandbox(sandbox_id)
        scope = _Scope(self, context, sandbox_id, sandbox_cfg, tuple(pod_ips), status)
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
        # Step 7: resize running containers in place.
        for resize in actions.containers_to_resize:
            steps.append(self._resize(resize, progress))
        # Step 8: regular containers.
        for name in actions.containers_to_start:
            steps.append(scope.start(name, "container"))
        return SyncResult(steps=steps, sandbox_id=sandbox_id, pod_ips=pod_ips)

    def _resize(self, resize: ContainerResize, progress: Progress) -> StepResult:
        try:
            self.runtime.update_container_resources(resize.container.id, resize.resources)
        except KubertError as exc:
            return StepResult(
                action="ResizeContainer",
                target=resize.container.name,
                error="ResizeUnsupported" if isinstance(exc, UnimplementedError) else "ResizeError",
                message=str(exc),
            )
        progress(f"Resized container {resize.container.name}")
        return StepResult(action="ResizeContainer", target=resize.container.name)

    # ---- starting containers -------------------------------------------------------------

    def backoff_key(self, pod: Pod, spec: Container) -> str:
        """The kubelet's stable backoff key: a changed spec starts a fresh backoff."""
        return f"{pod.name}_{pod.namespace}_{pod.uid}_{spec.name}_{container_hash(spec)}"

    def crash_backoff(
        self, pod: Pod, spec: Container, previous: ContainerRuntimeStatus | None
    ) -> str:
        """The kubelet's doBackOff: "" when ``spec`` may start now, else the back-off message.

        The backoff counts from when kubert first saw the previous container exited.
        """
        if previous is None or previous.state != ContainerState.CONTAINER_EXITED:
            return ""
        key = self.backoff_key(pod, spec)
        seen = self._exit_seen.setdefault(previous.id, self.clock.now())
        if self.backoff.in_backoff_since(key, seen):
            return (
                f"back-off {self.backoff.get(key):g}s restarting failed container={spec.name} "
                f"pod={pod.full_name}"
            )
        self.backoff.next(key, seen)
        return ""

    def start_container(self, start: ContainerStart) -> str:
        """Start one container through ``kubert_start_container``. :returns: its ID."""
        container_id: str | None = self.pm.hook.kubert_start_container(start=start)
        if container_id is None:
            raise StartError(RUN_ERROR, f"no plugin started container {start.spec.name}")
        return container_id

    def container_config(self, start: ContainerStart) -> ContainerConfig:
        """The ContainerConfig for ``start`` (volumes and /etc/hosts are made on the way)."""
        pod = start.pod
        volumes = ensure_volume_dirs(self.config, pod)
        etc_hosts = (
            None if pod.spec.host_network else write_etc_hosts(self.config, pod, start.pod_ips)
        )
        target_id = ""
        if start.spec.target_container_name:
            target_id = self._running_container_id(
                pod, start.spec.target_container_name, start.sandbox_id
            )
        return container_config(
            self.config,
            pod,
            start.spec,
            restart_count=start.restart_count,
            pod_ips=start.pod_ips,
            volume_paths=volumes,
            etc_hosts=etc_hosts,
            target_id=target_id,
        )

    def _running_container_id(self, pod: Pod, name: str, sandbox_id: str) -> str:
        selector = {labels.POD_UID: pod.uid, labels.CONTAINER_NAME: name}
        found = self.runtime.list_containers(
            ContainerFilter(
                pod_sandbox_id=sandbox_id,
                state=ContainerState.CONTAINER_RUNNING,
                label_selector=selector,
            )
        )
        if not found:
            raise StartError(CREATE_CONFIG_ERROR, f"target container {name!r} is not running")
        return found[0].id

    def default_start_container(self, start: ContainerStart) -> str:
        """The kubelet's startContainer: image, config, CreateContainer, StartContainer."""
        spec = start.spec
        self.images.ensure_image(start.pod, spec, start.sandbox_config, start.progress)
        try:
            config = self.container_config(start)
        except (KubertError, OSError) as exc:
            raise StartError(CREATE_CONFIG_ERROR, str(exc)) from exc
        self._verify_run_as_non_root(start, config)
        log_dir = pod_log_dir(self.config, start.pod) / spec.name
        log_dir.mkdir(parents=True, exist_ok=True)
        try:
            container_id = self.runtime.create_container(
                start.sandbox_id, config, start.sandbox_config
            )
        except KubertError as exc:
            raise StartError(CREATE_ERROR, str(exc)) from exc
        try:
            self.runtime.start_container(container_id)
        except KubertError as exc:
            raise StartError(RUN_ERROR, str(exc)) from exc
        return container_id

    def _verify_run_as_non_root(self, start: ContainerStart, config: ContainerConfig) -> None:
        """The kubelet's verifyRunAsNonRoot: refuse to start a runAsNonRoot container as root."""
        spec, pod_sc = start.spec, start.pod.spec.security_context
        wanted = spec.security_context.run_as_non_root if spec.security_context else None
        if wanted is None and pod_sc is not None:
            wanted = pod_sc.run_as_non_root
        if not wanted:
            return
        uid = config.linux.security_context.run_as_user
        if uid is None:
            image = self.runtime.image_status(config.image)
            if image is not None and image.uid is not None:
                uid = image.uid
            elif image is not None and image.username not in ("", "root"):
                raise StartError(CREATE_CONFIG_ERROR, (
                    f"container has runAsNonRoot and image has non-numeric user "
                    f"({image.username}), cannot verify user is non-root"
                ))
            else:
                uid = 0
        if uid == 0:
            raise StartError(
                CREATE_CONFIG_ERROR, "container has runAsNonRoot and image will run as root"
            )

    # ---- killing -------------------------------------------------------------------------

    def grace_period(
        self,
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
            grace = labels.int_annotation(
                container.status.annotations, labels.TERMINATION_GRACE, 30
            )
        return max(self.config.min_grace_period, grace)

    def kill_container(
        self,
        pod: Pod | None,
        container: ContainerRuntimeStatus,
        spec: Container | None,
        reason: str,
        message: str,
        progress: Progress = _quiet,
    ) -> StepResult:
        """Stop one container through ``kubert_kill_container``."""
        kill = ContainerKill(
            pod=pod,
            container=container,
            spec=spec,
            reason=reason,
            message=message,
            grace_period=self.grace_period(pod, container, spec, reason),
            runtime=self.runtime,
            manager=self,
            progress=progress,
        )
        progress(f"Killing container {container.name}: {message}")
        try:
            stopped = self.pm.hook.kubert_kill_container(kill=kill)
        except KubertError as exc:
            return StepResult(
                action="KillContainer",
                target=container.name,
                error="KillContainerError",
                message=str(exc),
            )
        self.probes.forget(container.id)
        if stopped is False:
            return StepResult(
                action="KillContainer",
                target=container.name,
                error="KillContainerRefused",
                message="a plugin kept it running",
            )
        return StepResult(action="KillContainer", target=container.name, message=message)

    def default_kill_container(self, kill: ContainerKill) -> None:
        """StopContainer with the grace period; an already-gone container is fine."""
        try:
            self.runtime.stop_container(kill.container.id, kill.grace_period)
        except NotFoundError:
            return

    def kill_pod(
        self,
        pod: Pod | None,
        status: PodRuntimeStatus,
        reason: str,
        progress: Progress = _quiet,
    ) -> list[StepResult]:
        """Stop every running container (regular ones in parallel, then sidecars in reverse
        order), then every ready sandbox of the pod."""
        running = status.running_containers()
        sidecars = [c for c in running if c.kind == "sidecar"]
        if pod is not None:
            order = {c.name: i for i, c in enumerate(pod.spec.init_containers)}
            sidecars.sort(key=lambda c: order.get(c.name, -1), reverse=True)
        others = [c for c in running if c not in sidecars]
        message = {"Deleted": "the pod is being deleted"}.get(
            reason, f"the pod is killed ({reason})"
        )

        def kill(container: ContainerRuntimeStatus) -> StepResult:
            spec = pod.find_container(container.name) if pod is not None else None
            return self.kill_container(pod, container, spec, reason, message, progress)

        steps: list[StepResult] = []
        if others:
            with ThreadPoolExecutor(max_workers=min(8, len(others))) as pool:
                steps += list(pool.map(kill, others))
        steps += [kill(c) for c in sidecars]
        for sandbox in status.sandboxes:
            if sandbox.state != PodSandboxState.SANDBOX_READY:
                continue
            try:
                self.runtime.stop_pod_sandbox(sandbox.id)
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

    def delete_pod(
        self, uid: str, pod: Pod | None = None, progress: Progress = _quiet
    ) -> list[StepResult]:
        """Kill the pod, remove its containers and sandboxes, and its directory."""
        status = self.observe(uid)
        steps = self.kill_pod(pod, status, "Deleted", progress)
        for container in status.containers:
            with contextlib.suppress(NotFoundError):
                self.runtime.remove_container(container.id)
            self._forget_container(container.id)
        for sandbox in status.sandboxes:
            self.runtime.remove_pod_sandbox(sandbox.id)
            progress(f"Removed sandbox {sandbox.id[:13]}")
        shutil.rmtree(self.config.pod_dir(uid), ignore_errors=True)
        namespace = pod.namespace if pod is not None else status.namespace
        name = pod.name if pod is not None else status.name
        if namespace and name:
            # The pod's logs go with it, as the kubelet's pod log GC does.
            shutil.rmtree(self.config.log_root / f"{namespace}_{name}_{uid}", ignore_errors=True)
        for key in [k for k in self.waiting if k[0] == uid]:
            del self.waiting[key]
        return steps

    # ---- garbage -------------------------------------------------------------------------

    def collect_garbage(self, pod: Pod, status: PodRuntimeStatus) -> None:
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
                    self.runtime.remove_container(container.id)
                except KubertError as exc:
                    log.info("cannot remove container %s: %s", container.id[:13], exc)
                    continue
                removed.add(container.id)
                self._forget_container(container.id)
        live = {c.sandbox_id for c in status.containers if c.id not in removed}
        for sandbox in status.sandboxes[1:]:
            if sandbox.state != PodSandboxState.SANDBOX_READY and sandbox.id not in live:
                try:
                    self.runtime.remove_pod_sandbox(sandbox.id)
                except KubertError as exc:
                    log.info("cannot remove sandbox %s: %s", sandbox.id[:13], exc)

    def _forget_container(self, container_id: str) -> None:
        self._exit_seen.pop(container_id, None)
        self.probes.forget(container_id)


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
            restart_count=previous.restart_count + 1 if previous is not None else 0,
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
