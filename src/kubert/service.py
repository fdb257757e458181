"""The core behind the CRI server: the sandbox lifecycle over the configured backends, in models.

RunPodSandbox runs five steps (ensure the sandbox image, create, write the checkpoint, start,
set up the network) and undoes the finished ones when a later step fails. Stop and remove are
idempotent and fall back to the checkpoint when the engine has forgotten a sandbox. Calls on
different sandboxes run in parallel; calls on one sandbox are serialized by its own lock.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext, suppress
from typing import TYPE_CHECKING, Any

import attrs
from attrs import define, field

from kubert import __version__
from kubert.backends import (
    CheckpointStore,
    ImageBackend,
    NetworkBackend,
    PodNetwork,
    RuntimeBackend,
)
from kubert.crashpoint import crash_point
from kubert.errors import KubertError, NotFoundError, UnavailableError
from kubert.hookspecs import hookimpl
from kubert.locks import LockTable
from kubert.model import (
    NETWORK_READY,
    RUNTIME_READY,
    AttachRequest,
    AuthConfig,
    Checkpoint,
    Container,
    ContainerConfig,
    ContainerEvent,
    ContainerFilter,
    ContainerStats,
    ContainerStatsFilter,
    ContainerStatusResponse,
    ExecRequest,
    ExecSyncResult,
    Image,
    ImageFilter,
    ImageFsInfo,
    ImageSpec,
    ImageStatusResponse,
    LinuxContainerResources,
    LinuxPodSandboxStatus,
    MetricDescriptor,
    Namespace,
    NamespaceMode,
    NamespaceOption,
    PodSandbox,
    PodSandboxConfig,
    PodSandboxFilter,
    PodSandboxMetadata,
    PodSandboxMetrics,
    PodSandboxNetworkStatus,
    PodSandboxState,
    PodSandboxStats,
    PodSandboxStatsFilter,
    PodSandboxStatus,
    PodSandboxStatusResponse,
    PortForwardRequest,
    RuntimeCondition,
    RuntimeFeatures,
    RuntimeHandler,
    RuntimeStatus,
    StatusResponse,
    VersionInfo,
)
from kubert.model.enums import CgroupDriver
from kubert.recovery import Recovery, RunGate, mark_stopping

if TYPE_CHECKING:
    from kubert.streaming.server import StreamingServer

log = logging.getLogger(__name__)

RUNTIME_NAME = "kubert"
#: The kubelet's CRI client version string that Version answers in ``version``.
KUBELET_API_VERSION = "0.1.0"


def _step_failed(error: BaseException, step: str) -> None:
    """Say in ``error`` which RunPodSandbox step raised it."""
    if isinstance(error, KubertError):
        error.message = f"RunPodSandbox failed at step {step!r}: {error.message}"
        error.args = (error.message,)
    else:
        error.add_note(f"RunPodSandbox failed at step {step!r}")


@define
class KubertService:
    """The sandbox, container and image operations of CRI v1 over one set of backends.

    :param pod_infra_image: the sandbox (pause) image RunPodSandbox makes sure is present.

    Besides the CRI operations, :meth:`sandbox_lock`, :meth:`stop_locked` and
    :meth:`pod_network_of` are public for start-up recovery: the service is the
    :class:`~kubert.recovery.RecoveryTarget` it hands to :class:`~kubert.recovery.Recovery`.
    """

    runtime: RuntimeBackend
    images: ImageBackend
    network: NetworkBackend
    checkpoints: CheckpointStore
    pod_infra_image: str
    #: Serves Exec/Attach/PortForward URLs; set by ``kubert serve`` once it listens.
    streaming: StreamingServer | None = None
    _locks: LockTable = field(init=False, factory=LockTable)
    #: Container ID -> sandbox ID of the containers created here and not started or removed
    #: yet: StartContainer finds the sandbox to lock without listing every container (and
    #: without making a backend describe a container it has just created).
    _unstarted: dict[str, str] = field(init=False, factory=dict)
    #: Sandboxes whose network this process tore down (a stopped sandbox never runs again):
    #: RemovePodSandbox's own stop does not run the network plugins a second time. Empty after
    #: a restart, when a teardown is repeated (teardowns are idempotent).
    _torn_down: set[str] = field(init=False, factory=set)
    #: RunPodSandbox calls share it; start-up recovery's garbage collection holds it alone.
    run_gate: RunGate = field(init=False, factory=RunGate)
    recovery: Recovery | None = field(init=False, default=None)
    #: The runtime backend's version at the last contact; Version answers it while it is down.
    _backend_version: str = field(init=False, default="unknown")

    # ---- start-up and shutdown ---------------------------------------------------------

    def start(self) -> None:
        """Recover from a restart or crash (see :mod:`kubert.recovery`): settle unfinished
        sandboxes and let the network backend release what no sandbox owns."""
        if self.recovery is None:
            self.recovery = Recovery(self)
        self.recovery.start()

    def close(self) -> None:
        """Close every backend once (one object may serve as runtime and image backend)."""
        if self.recovery is not None:
            self.recovery.close()
        seen: set[int] = set()
        for backend in (self.network, self.images, self.runtime, self.checkpoints):
            if id(backend) in seen:
                continue
            seen.add(id(backend))
            try:
                backend.close()
            except Exception:  # one backend failing to close must not keep the others open
                log.exception("closing backend %s failed", backend.name or type(backend).__name__)

    # ---- runtime-wide ------------------------------------------------------------------

    def version(self) -> VersionInfo:
        """kubert's version and the runtime backend's; it answers while the backend is down
        (with the backend's version from the last contact, or ``unknown``), so that a kubelet
        can start and read Status, which says why the runtime is not ready."""
        try:
            self._backend_version = self.runtime.version().runtime_version or "unknown"
        except UnavailableError as error:
            log.debug("version of %s unavailable: %s", self.runtime.name, error.message)
        engine = self._backend_version
        return VersionInfo(
            version=KUBELET_API_VERSION,
            runtime_name=RUNTIME_NAME,
            runtime_version=f"{__version__} ({self.runtime.name} {engine})",
            runtime_api_version="v1",
        )

    def status(self, verbose: bool = False) -> StatusResponse:
        """RuntimeReady from the runtime backend, NetworkReady from the network backend;
        ``verbose`` adds the runtime backend's info and kubert's own (which backends serve)."""
        runtime = _condition(RUNTIME_READY, self.runtime.name, self.runtime.status)
        network = _condition(NETWORK_READY, self.network.name, self.network.status)
        handlers: Sequence[RuntimeHandler]
        try:
            handlers = tuple(self.runtime.runtime_handlers())
            features = self.runtime.runtime_features()
        except KubertError:
            handlers, features = (), RuntimeFeatures()
        info: dict[str, str] = {}
        if verbose:
            info = {"kubert": json.dumps(self._kubert_info())}
            info.update(_info("runtime", self.runtime.runtime_info))
        return StatusResponse(
            status=RuntimeStatus(conditions=(runtime, network)),
            runtime_handlers=tuple(handlers),
            info=info,
            features=features,
        )

    def _kubert_info(self) -> dict[str, Any]:
        return {
            "version": __version__,
            "backends": {
                "runtime": self.runtime.name,
                "images": self.images.name,
                "network": self.network.name,
                "checkpoints": self.checkpoints.name,
            },
            "podInfraContainerImage": self.pod_infra_image,
            "streaming": self.streaming is not None,
        }

    def update_runtime_config(self, pod_cidr: str) -> None:
        self.runtime.update_runtime_config(pod_cidr)
        self.network.update_pod_cidr(pod_cidr)

    def runtime_config(self) -> CgroupDriver:
        return self.runtime.cgroup_driver()

    # ---- sandboxes ---------------------------------------------------------------------

    def run_pod_sandbox(self, config: PodSandboxConfig, runtime_handler: str = "") -> str:
        """Ensure image, create, checkpoint, start, set up network; undo all on failure."""
        meta = config.metadata
        run_key = f"run:{meta.namespace}/{meta.name}/{meta.uid}/{meta.attempt}"
        with self.run_gate.shared(), self._locks.hold(run_key), ExitStack() as held:
            undo: list[tuple[str, Callable[[], None]]] = []
            step = "ensure sandbox image"
            try:
                self._ensure_sandbox_image(config)
                step = "create sandbox"
                created = self.runtime.create_sandbox(config, runtime_handler)
                sandbox_id = created.id
                # Listed from now on: a client's stop or remove of it waits until it is up
                # (or undone) instead of pulling the netns from under the network setup.
                held.enter_context(self._locks.hold(sandbox_id))
                undo.append(("remove sandbox", lambda: self.runtime.remove_sandbox(sandbox_id)))
                crash_point("run:created")
                step = "write checkpoint"
                checkpoint = _checkpoint(config, sandbox_id, created.netns_path, runtime_handler)
                self.checkpoints.write(checkpoint)
                undo.append(("delete checkpoint", lambda: self.checkpoints.delete(sandbox_id)))
                crash_point("run:checkpointed")
                step = "start sandbox"
                self.runtime.start_sandbox(sandbox_id)
                undo.append(("stop sandbox", lambda: self.runtime.stop_sandbox(sandbox_id)))
                crash_point("run:started")
                if not checkpoint.host_network:
                    step = "set up network"
                    netns = self.runtime.sandbox_netns_path(sandbox_id) or created.netns_path
                    pod = attrs.evolve(
                        _pod_network(checkpoint, netns, config.linux.cgroup_parent),
                        dns_config=config.dns_config,
                    )
                    network = self.network.setup_pod(pod)
                    undo.append(("tear down network", lambda: self.network.teardown_pod(pod)))
                    crash_point("run:network")
                    step = "record network in checkpoint"
                    recorded = attrs.evolve(checkpoint, netns_path=netns, network=network)
                    # What a crash must not lose: the pod's IPs (their release on teardown)
                    # and the netns the runtime settled on. A network that reported nothing
                    # and an unchanged netns leave the first write complete.
                    if recorded != checkpoint:
                        self.checkpoints.write(recorded)
                crash_point("run:recorded")
            except BaseException as error:
                _step_failed(error, step)
                self._undo(undo, error)
                raise
            return sandbox_id

    def _ensure_sandbox_image(self, config: PodSandboxConfig) -> None:
        spec = ImageSpec(image=self.pod_infra_image)
        if self.images.image_status(spec) is None:
            log.info("pulling sandbox image %s", self.pod_infra_image)
            self.images.pull_image(spec, None, config)

    @staticmethod
    def _undo(undo: list[tuple[str, Callable[[], None]]], error: BaseException) -> None:
        for name, action in reversed(undo):
            try:
                action()
            except NotFoundError:
                pass
            except Exception as undo_error:  # keep undoing; the original error is what matters
                log.exception("undo step %r after a failed RunPodSandbox failed", name)
                error.add_note(f"undo step {name!r} also failed: {undo_error}")
            crash_point("run:undoing")

    def stop_pod_sandbox(self, sandbox_id: str) -> None:
        """Tear down the network, then stop; an unknown sandbox is already stopped."""
        sandbox_id = self._sandbox_id(sandbox_id)
        with self._locks.hold(sandbox_id):
            self.stop_locked(sandbox_id)

    def sandbox_lock(self, sandbox_id: str) -> AbstractContextManager[None]:
        """The per-sandbox lock that StopPodSandbox, RemovePodSandbox and container calls hold;
        recovery holds it so that it cannot race them."""
        return self._locks.hold(sandbox_id)

    def stop_locked(self, sandbox_id: str) -> None:
        """StopPodSandbox's stop path (network teardown, then stop); the caller holds
        :meth:`sandbox_lock`. An unknown sandbox is already stopped.

        :raises Exception: the network teardown's error, after the sandbox was stopped.
        """
        checkpoint = self._checkpoint_or_none(sandbox_id)
        try:
            status: PodSandboxStatus | None = self.runtime.sandbox_status(sandbox_id)
        except NotFoundError:
            status = None
        if status is None and checkpoint is None:
            return
        teardown_error: Exception | None = None
        pod = self.pod_network_of(sandbox_id, status, checkpoint)
        ready = status is not None and status.state == PodSandboxState.SANDBOX_READY
        if status is not None:
            # The containers may begin to stop now; the netns stays until stop_sandbox.
            self.runtime.begin_stop_sandbox(sandbox_id)
        if pod is not None and not pod.host_network and (
            ready or sandbox_id not in self._torn_down
        ):
            if checkpoint is not None and status is not None:
                # A crash during teardown must not leave a ready sandbox without its network:
                # recovery finishes the stops the checkpoint says were begun.
                mark_stopping(self.checkpoints, checkpoint)
            try:
                self.network.teardown_pod(pod)
                self._torn_down.add(sandbox_id)
            except Exception as error:  # still stop the sandbox; the kubelet retries teardown
                teardown_error = error
            crash_point("stop:torn-down")
        if status is not None:
            with suppress(NotFoundError):
                self.runtime.stop_sandbox(sandbox_id)
        if teardown_error is not None:
            raise teardown_error

    def remove_pod_sandbox(self, sandbox_id: str) -> None:
        """Stop (if needed), remove the sandbox and its containers, delete the checkpoint."""
        sandbox_id = self._sandbox_id(sandbox_id)
        with self._locks.hold(sandbox_id):
            self.stop_locked(sandbox_id)
            crash_point("remove:stopped")
            with suppress(NotFoundError):
                self.runtime.remove_sandbox(sandbox_id)
            for container_id, owner in list(self._unstarted.items()):
                if owner == sandbox_id:
                    self._unstarted.pop(container_id, None)
            crash_point("remove:removed")
            self.checkpoints.delete(sandbox_id)
            self._torn_down.discard(sandbox_id)

    def pod_sandbox_status(
        self, sandbox_id: str, verbose: bool = False
    ) -> PodSandboxStatusResponse:
        """The sandbox's status, its containers' statuses (read no earlier than ``timestamp``)
        and, when ``verbose``, the runtime backend's info."""
        timestamp = time.time_ns()
        status = self._sandbox_status(sandbox_id)
        containers = []
        for container in self.runtime.list_containers(ContainerFilter(pod_sandbox_id=status.id)):
            with suppress(NotFoundError):  # removed since the list: not in the sandbox any more
                containers.append(self.runtime.container_status(container.id))
        info = _info("sandbox", lambda: self.runtime.sandbox_info(status.id)) if verbose else {}
        return PodSandboxStatusResponse(
            status=status, info=info, containers_statuses=tuple(containers), timestamp=timestamp
        )

    def _sandbox_id(self, sandbox_id: str) -> str:
        """The full ID of ``sandbox_id`` (an ID or unique prefix) when only a checkpoint
        remembers the sandbox; otherwise unchanged (the runtime resolves its own prefixes)."""
        if not sandbox_id or self._checkpoint_or_none(sandbox_id) is not None:
            return sandbox_id
        try:
            return self.runtime.sandbox_status(sandbox_id).id
        except NotFoundError:
            pass
        matches = [known for known in self.checkpoints.list() if known.startswith(sandbox_id)]
        if len(matches) > 1:
            raise NotFoundError("sandbox", sandbox_id, "the prefix is ambiguous")
        return matches[0] if matches else sandbox_id

    def _sandbox_status(self, sandbox_id: str) -> PodSandboxStatus:
        """The runtime's status with the network's IPs (the checkpoint's when it knows none);
        for a sandbox only its checkpoint remembers, NOTREADY from the checkpoint, as listed."""
        try:
            status = self.runtime.sandbox_status(sandbox_id)
        except NotFoundError:
            checkpoint = self._checkpoint_or_none(self._sandbox_id(sandbox_id))
            if checkpoint is None:
                raise
            return _status_from_checkpoint(checkpoint)
        if status.network is not None or status.state != PodSandboxState.SANDBOX_READY:
            return status
        checkpoint = self._checkpoint_or_none(status.id)
        pod = self.pod_network_of(status.id, status, checkpoint)
        network: PodSandboxNetworkStatus | None = None
        if pod is not None and not pod.host_network:
            network = self.network.pod_network_status(pod)
        if network is None and checkpoint is not None:
            network = checkpoint.network
        return attrs.evolve(status, network=network)

    def list_pod_sandbox(self, filter: PodSandboxFilter | None = None) -> list[PodSandbox]:
        """The runtime's sandboxes, plus NOTREADY ones only a checkpoint remembers."""
        sandboxes = self.runtime.list_sandboxes(filter)
        if filter is not None and filter.state == PodSandboxState.SANDBOX_READY:
            return sandboxes
        missing = set(self.checkpoints.list()) - {sandbox.id for sandbox in sandboxes}
        if missing and filter is not None:
            missing -= {sandbox.id for sandbox in self.runtime.list_sandboxes(None)}
        for sandbox_id in sorted(missing):
            checkpoint = self._checkpoint_or_none(sandbox_id)
            if checkpoint is None:
                continue
            forgotten = _sandbox_from_checkpoint(checkpoint)
            if filter is None or filter.matches(forgotten):
                sandboxes.append(forgotten)
        return sandboxes

    def _checkpoint_or_none(self, sandbox_id: str) -> Checkpoint | None:
        try:
            return self.checkpoints.read(sandbox_id)
        except NotFoundError:
            return None

    def pod_network_of(
        self, sandbox_id: str, status: PodSandboxStatus | None, checkpoint: Checkpoint | None
    ) -> PodNetwork | None:
        """The pod as the network backend sees it: from the checkpoint when there is one,
        else from the runtime's ``status``; None when neither is known."""
        if checkpoint is not None:
            netns = self.runtime.sandbox_netns_path(sandbox_id) if status else ""
            return _pod_network(checkpoint, netns or checkpoint.netns_path, "")
        if status is None:
            return None
        host = status.linux.namespaces.options.network == NamespaceMode.NODE
        return PodNetwork(
            sandbox_id=sandbox_id,
            metadata=status.metadata,
            netns_path=self.runtime.sandbox_netns_path(sandbox_id),
            annotations=status.annotations,
            labels=status.labels,
            host_network=host,
        )

    # ---- containers --------------------------------------------------------------------

    def create_container(
        self, pod_sandbox_id: str, config: ContainerConfig, sandbox_config: PodSandboxConfig
    ) -> str:
        with self._locks.hold(pod_sandbox_id):
            container_id = self.runtime.create_container(pod_sandbox_id, config, sandbox_config)
            self._unstarted[container_id] = pod_sandbox_id
            return container_id

    def start_container(self, container_id: str) -> None:
        """Under the sandbox's lock, so that a concurrent StopPodSandbox cannot stop the sandbox
        between the backend's readiness check and the start."""
        sandbox_id = self._unstarted.pop(container_id, "")
        if not sandbox_id:  # created before a restart, or named by a prefix
            found = self.runtime.list_containers(ContainerFilter(id=container_id))
            sandbox_id = found[0].pod_sandbox_id if len(found) == 1 else ""
        with self._locks.hold(sandbox_id) if sandbox_id else nullcontext():
            self.runtime.start_container(container_id)

    def stop_container(self, container_id: str, timeout: int) -> None:
        """Idempotent, as the CRI requires: a container that is gone is stopped."""
        with suppress(NotFoundError):
            self.runtime.stop_container(container_id, timeout)

    def remove_container(self, container_id: str) -> None:
        """Idempotent, as the CRI requires: a container that is already gone is removed."""
        self._unstarted.pop(container_id, None)
        with suppress(NotFoundError):
            self.runtime.remove_container(container_id)

    def list_containers(self, filter: ContainerFilter | None = None) -> list[Container]:
        return self.runtime.list_containers(filter)

    def container_status(
        self, container_id: str, verbose: bool = False
    ) -> ContainerStatusResponse:
        status = self.runtime.container_status(container_id)
        info = _info("container", lambda: self.runtime.container_info(status.id)) if verbose else {}
        return ContainerStatusResponse(status=status, info=info)

    def update_container_resources(
        self, container_id: str, resources: LinuxContainerResources
    ) -> None:
        self.runtime.update_container_resources(container_id, resources)

    def reopen_container_log(self, container_id: str) -> None:
        self.runtime.reopen_container_log(container_id)

    def exec_sync(self, container_id: str, cmd: Sequence[str], timeout: int) -> ExecSyncResult:
        return self.runtime.exec_sync(container_id, cmd, timeout)

    # ---- streaming (URLs handed out by the streaming server) ---------------------------

    def exec(self, request: ExecRequest) -> str:
        """The URL of an Exec session on the streaming server."""
        if self.streaming is None:
            self.runtime.container_status(request.container_id)
            raise self.runtime.unimplemented("Exec")
        return self.streaming.get_exec(request)

    def attach(self, request: AttachRequest) -> str:
        """The URL of an Attach session on the streaming server."""
        if self.streaming is None:
            self.runtime.container_status(request.container_id)
            raise self.runtime.unimplemented("Attach")
        return self.streaming.get_attach(request)

    def port_forward(self, request: PortForwardRequest) -> str:
        """The URL of a PortForward session on the streaming server."""
        if self.streaming is None:
            self.runtime.sandbox_status(request.pod_sandbox_id)
            raise self.runtime.unimplemented("PortForward")
        return self.streaming.get_port_forward(request)

    # ---- stats, events, checkpoints ----------------------------------------------------

    def container_stats(self, container_id: str) -> ContainerStats:
        return self.runtime.container_stats(container_id)

    def list_container_stats(
        self, filter: ContainerStatsFilter | None = None
    ) -> list[ContainerStats]:
        return self.runtime.list_container_stats(filter)

    def pod_sandbox_stats(self, pod_sandbox_id: str) -> PodSandboxStats:
        return self.runtime.pod_sandbox_stats(pod_sandbox_id)

    def list_pod_sandbox_stats(
        self, filter: PodSandboxStatsFilter | None = None
    ) -> list[PodSandboxStats]:
        return self.runtime.list_pod_sandbox_stats(filter)

    def checkpoint_container(self, container_id: str, location: str, timeout: int) -> None:
        self.runtime.checkpoint_container(container_id, location, timeout)

    def container_events(self) -> Iterator[ContainerEvent]:
        return self.runtime.container_events()

    def list_metric_descriptors(self) -> list[MetricDescriptor]:
        return self.runtime.list_metric_descriptors()

    def list_pod_sandbox_metrics(self) -> list[PodSandboxMetrics]:
        return self.runtime.list_pod_sandbox_metrics()

    def update_pod_sandbox_resources(
        self, pod_sandbox_id: str, resources: LinuxContainerResources
    ) -> None:
        with self._locks.hold(pod_sandbox_id):
            self.runtime.update_pod_sandbox_resources(pod_sandbox_id, resources)

    # ---- images ------------------------------------------------------------------------

    def list_images(self, filter: ImageFilter | None = None) -> list[Image]:
        return self.images.list_images(filter)

    def image_status(self, image: ImageSpec, verbose: bool = False) -> ImageStatusResponse:
        found = self.images.image_status(image)
        if found is None:
            return ImageStatusResponse()
        info = _info("image", lambda: self.images.image_info(image)) if verbose else {}
        return ImageStatusResponse(image=found, info=info)

    def pull_image(
        self,
        image: ImageSpec,
        auth: AuthConfig | None = None,
        sandbox_config: PodSandboxConfig | None = None,
    ) -> str:
        return self.images.pull_image(image, auth, sandbox_config)

    def remove_image(self, image: ImageSpec) -> None:
        self.images.remove_image(image)

    def image_fs_info(self) -> ImageFsInfo:
        return self.images.image_fs_info()


def _condition(kind: str, backend: str, probe: Callable[[], RuntimeCondition]) -> RuntimeCondition:
    """The backend's condition; a backend that cannot answer is not ready, with why."""
    try:
        condition = probe()
    except UnavailableError as error:
        return RuntimeCondition.not_ready(kind, "BackendUnavailable", error.message)
    except Exception as error:  # a status probe must answer, whatever the backend did
        log.exception("%s status probe of %r failed", kind, backend)
        return RuntimeCondition.not_ready(kind, "StatusFailed", f"{type(error).__name__}: {error}")
    return attrs.evolve(condition, type=kind)


def _info(kind: str, read: Callable[[], dict[str, str]]) -> dict[str, str]:
    """A backend's verbose info; it is an extra, so a backend that cannot give it (the object
    went away meanwhile, the engine hiccuped) leaves the answer without it."""
    try:
        return dict(read())
    except KubertError as error:
        log.debug("no verbose %s info: %s", kind, error.message)
        return {}


def _checkpoint(
    config: PodSandboxConfig, sandbox_id: str, netns_path: str, runtime_handler: str
) -> Checkpoint:
    meta = config.metadata
    return Checkpoint(
        sandbox_id=sandbox_id,
        name=meta.name,
        namespace=meta.namespace,
        uid=meta.uid,
        attempt=meta.attempt,
        host_network=config.namespace_options.network == NamespaceMode.NODE,
        port_mappings=config.port_mappings,
        netns_path=netns_path,
        created_at=time.time_ns(),
        runtime_handler=runtime_handler,
        annotations=config.annotations,
        extra={"labels." + k: v for k, v in config.labels.items()},
    )


def _labels(checkpoint: Checkpoint) -> dict[str, str]:
    return {
        key.removeprefix("labels."): value
        for key, value in checkpoint.extra.items()
        if key.startswith("labels.")
    }


def _pod_network(checkpoint: Checkpoint, netns_path: str, cgroup_parent: str) -> PodNetwork:
    return PodNetwork(
        sandbox_id=checkpoint.sandbox_id,
        metadata=_metadata(checkpoint),
        netns_path=netns_path,
        port_mappings=checkpoint.port_mappings,
        annotations=checkpoint.annotations,
        labels=_labels(checkpoint),
        cgroup_parent=cgroup_parent,
        host_network=checkpoint.host_network,
    )


def _metadata(checkpoint: Checkpoint) -> PodSandboxMetadata:
    return PodSandboxMetadata(
        name=checkpoint.name,
        namespace=checkpoint.namespace,
        uid=checkpoint.uid,
        attempt=checkpoint.attempt,
    )


def _sandbox_from_checkpoint(checkpoint: Checkpoint) -> PodSandbox:
    return PodSandbox(
        id=checkpoint.sandbox_id,
        metadata=_metadata(checkpoint),
        state=PodSandboxState.SANDBOX_NOTREADY,
        created_at=checkpoint.created_at,
        labels=_labels(checkpoint),
        annotations=checkpoint.annotations,
        runtime_handler=checkpoint.runtime_handler,
    )


def _status_from_checkpoint(checkpoint: Checkpoint) -> PodSandboxStatus:
    """PodSandboxStatus of a sandbox the runtime no longer has: NOTREADY, what was recorded."""
    listed = _sandbox_from_checkpoint(checkpoint)
    network_mode = NamespaceMode.NODE if checkpoint.host_network else NamespaceMode.POD
    return PodSandboxStatus(
        id=listed.id,
        metadata=listed.metadata,
        state=listed.state,
        created_at=listed.created_at,
        network=checkpoint.network,
        linux=LinuxPodSandboxStatus(
            namespaces=Namespace(options=NamespaceOption(network=network_mode))
        ),
        labels=dict(listed.labels),
        annotations=dict(listed.annotations),
        runtime_handler=listed.runtime_handler,
    )


@hookimpl(trylast=True)
def kubert_cri_call(method: str, request: Any, call: Callable[[Any], Any]) -> Any:
    """The core's implementation: perform the call. Wrappers see it on the way in and out."""
    return call(request)
