"""``memory``: a complete runtime + image backend that keeps CRI state in memory.

It is the reference model of the conformance suite and the backend of kubert's fast tests, so
it implements the whole contract, not a stub. Its rules, which the suite checks every other
backend against:

* Sandboxes: ``create_sandbox`` makes a NOTREADY sandbox, ``start_sandbox`` makes it READY,
  ``stop_sandbox`` stops its running containers and makes it NOTREADY for good (a stopped
  sandbox is never started again; the kubelet creates a new attempt). ``(name, namespace, uid,
  attempt)`` is unique among all existing sandboxes, stopped ones included.
* Containers: ``(name, attempt)`` is unique within a sandbox. Containers are created only in a
  READY sandbox and started only while it is READY, and only from CREATED. Stopping a CREATED
  or EXITED container changes nothing; stopping a RUNNING one ends it with exit code 137 (as a
  SIGKILLed busybox ``sleep``, which ignores SIGTERM as PID 1). Removing a RUNNING container
  stops it first. What a container does on start is decided by
  :mod:`kubert.testing.commands`: ``true``, ``false``, ``echo …`` and ``sh -c "exit N"`` exit at
  once; anything else runs until stopped or until a test calls :meth:`MemoryBackend.exit_container`.
* Unknown IDs are NotFound here for every call; the CRI's answers for them (stop and remove
  succeed, a checkpoint-only sandbox has a status) and Version while the runtime is down are
  the core's, checked by :class:`~kubert.testing.suite.CriRuleTests` around this backend. A
  ``run_as_group`` without a user never reaches it (the model refuses it).
* Exited containers' ``reason`` is ``Completed`` (code 0) or ``Error``.
* Images: see :mod:`kubert.testing.images`. An image is in use while a container or a sandbox
  (through the infra image) refers to it; removing it then raises FailedPrecondition.
* Times are Unix nanoseconds and strictly increase within one backend instance.
* IDs are 64 hex characters, deterministic per instance.

Options (``BackendContext.options``):

``images``
    registry entries present from the start (default: the infra image and ``busybox:latest``).
``registry``
    further entries that can be pulled (default: ``busybox:1.36``, ``alpine:3.20``,
    ``nginx:1.27``).
``pull_any``
    when true, pulling any tag not in the registry succeeds with a made-up image.
``runtime_handlers``
    handler names accepted by ``create_sandbox`` (default: ``[""]``).

Test helpers: :meth:`~MemoryBackend.exit_container`, :meth:`~MemoryBackend.set_ready`,
:meth:`~MemoryBackend.inject_fault`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import posixpath
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from types import MappingProxyType

import attrs
from attrs import define

from kubert.backends import BackendContext, ImageBackend, PullProgress, RuntimeBackend
from kubert.cadvisor import METRIC_DESCRIPTORS, pod_sandbox_metrics
from kubert.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    KubertError,
    NotFoundError,
)
from kubert.events import EventBroadcaster
from kubert.hookspecs import RegisterBackend, hookimpl
from kubert.model import (
    RUNTIME_READY,
    AuthConfig,
    CgroupDriver,
    Container,
    ContainerAttributes,
    ContainerConfig,
    ContainerEvent,
    ContainerEventType,
    ContainerFilter,
    ContainerResources,
    ContainerState,
    ContainerStats,
    ContainerStatsFilter,
    ContainerStatus,
    CpuUsage,
    ExecSyncResult,
    FilesystemIdentifier,
    FilesystemUsage,
    Image,
    ImageFilter,
    ImageFsInfo,
    ImageSpec,
    LinuxContainerResources,
    LinuxPodSandboxStats,
    LinuxPodSandboxStatus,
    MemoryUsage,
    MetricDescriptor,
    Namespace,
    PodSandbox,
    PodSandboxAttributes,
    PodSandboxConfig,
    PodSandboxFilter,
    PodSandboxMetrics,
    PodSandboxState,
    PodSandboxStats,
    PodSandboxStatsFilter,
    PodSandboxStatus,
    ProcessUsage,
    RuntimeCondition,
    RuntimeHandler,
    SandboxCreated,
    VersionInfo,
)
from kubert.testing import commands
from kubert.testing.images import ImageStore, RegistryImage, StoredImage

__all__ = ["STOP_EXIT_CODE", "MemoryBackend"]

#: Exit code of a running container that ``stop_container`` ends (128 + SIGKILL).
STOP_EXIT_CODE = 137

DEFAULT_REGISTRY = ("busybox:1.36", "alpine:3.20", "nginx:1.27")
_instances = itertools.count()


@define
class _Sandbox:
    id: str
    config: PodSandboxConfig
    runtime_handler: str
    created_at: int
    image_id: str
    state: PodSandboxState = PodSandboxState.SANDBOX_NOTREADY
    stopped: bool = False
    resources: LinuxContainerResources | None = None
    #: The list entry last handed out, handed out again while ``state`` is unchanged (the
    #: only field of it that changes).
    listed: PodSandbox | None = None

    def entry(self) -> PodSandbox:
        """The ListPodSandbox entry: the same object while the sandbox is unchanged."""
        listed = self.listed
        if listed is None or listed.state != self.state:
            listed = self.listed = PodSandbox(
                id=self.id,
                metadata=self.config.metadata,
                state=self.state,
                created_at=self.created_at,
                labels=MappingProxyType(dict(self.config.labels)),
                annotations=MappingProxyType(dict(self.config.annotations)),
                runtime_handler=self.runtime_handler,
            )
        return listed


@define
class _Container:
    id: str
    sandbox_id: str
    config: ContainerConfig
    image_id: str
    image_ref: str
    created_at: int
    log_path: str
    state: ContainerState = ContainerState.CONTAINER_CREATED
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    reason: str = ""
    resources: LinuxContainerResources | None = None
    log_reopens: int = 0
    #: The list entry last handed out, handed out again while ``state`` is unchanged (the
    #: only field of it that changes).
    listed: Container | None = None

    @property
    def argv(self) -> tuple[str, ...]:
        return self.config.command + self.config.args

    def entry(self) -> Container:
        """The ListContainers entry: the same object while the container is unchanged."""
        listed = self.listed
        if listed is None or listed.state != self.state:
            listed = self.listed = Container(
                id=self.id,
                pod_sandbox_id=self.sandbox_id,
                metadata=self.config.metadata,
                image=self.config.image,
                image_ref=self.image_ref,
                image_id=self.image_id,
                state=self.state,
                created_at=self.created_at,
                labels=MappingProxyType(dict(self.config.labels)),
                annotations=MappingProxyType(dict(self.config.annotations)),
            )
        return listed


@define
class _Fault:
    error: KubertError
    times: int


class MemoryBackend(RuntimeBackend, ImageBackend):
    """CRI runtime and image service over plain dictionaries, guarded by one lock."""

    name = "memory"

    def __init__(self, context: BackendContext) -> None:
        super().__init__(context)
        self._lock = threading.RLock()
        self._instance = next(_instances)
        self._ids = itertools.count(1)
        self._last_ns = 0
        self._sandboxes: dict[str, _Sandbox] = {}
        self._containers: dict[str, _Container] = {}
        self._events = EventBroadcaster()
        self._faults: dict[str, _Fault] = {}
        self._ready = RuntimeCondition.ready(RUNTIME_READY)
        self._handlers = tuple(context.option("runtime_handlers", [""]))
        self._closed = False
        self._images = ImageStore(pull_any=bool(context.option("pull_any", False)))
        seeded = context.option("images", [context.pod_infra_container_image, "busybox:latest"])
        self._images.seed(seeded)
        for entry in context.option("registry", DEFAULT_REGISTRY):
            image = RegistryImage.from_entry(entry)
            if image not in self._images.registry:
                self._images.registry.append(image)

    # ---- test helpers ------------------------------------------------------------------

    def exit_container(self, container_id: str, exit_code: int = 0) -> None:
        """Make a RUNNING container exit by itself with ``exit_code`` (0-255).

        :raises FailedPreconditionError: it is not running.
        """
        if not 0 <= exit_code <= 255:
            raise InvalidArgumentError("exit_code", exit_code, "must be between 0 and 255")
        with self._lock:
            container = self._container(container_id)
            if container.state != ContainerState.CONTAINER_RUNNING:
                raise FailedPreconditionError(
                    f"container {container_id!r} is {container.state.name}, not running"
                )
            self._finish(container, exit_code)

    def set_ready(self, ready: bool, reason: str = "", message: str = "") -> None:
        """Set the RuntimeReady condition that :meth:`status` reports."""
        with self._lock:
            self._ready = (
                RuntimeCondition.ready(RUNTIME_READY)
                if ready
                else RuntimeCondition.not_ready(RUNTIME_READY, reason or "Injected", message)
            )

    def inject_fault(self, operation: str, error: KubertError, times: int = 1) -> None:
        """Make the next ``times`` calls of method ``operation`` raise ``error`` (fault injection).

        :param operation: a method name of this class, e.g. ``"start_sandbox"``.
        """
        if not callable(getattr(self, operation, None)):
            raise InvalidArgumentError("operation", operation, "is not a method of the backend")
        with self._lock:
            self._faults[operation] = _Fault(error=error, times=times)

    def _check_fault(self, operation: str) -> None:
        fault = self._faults.get(operation)
        if fault is None:
            return
        fault.times -= 1
        if fault.times <= 0:
            del self._faults[operation]
        raise fault.error

    # ---- internals ---------------------------------------------------------------------

    def _now(self) -> int:
        self._last_ns = max(time.time_ns(), self._last_ns + 1)
        return self._last_ns

    def _new_id(self) -> str:
        seed = f"memory:{self._instance}:{next(self._ids)}"
        return hashlib.sha256(seed.encode()).hexdigest()

    def _sandbox(self, sandbox_id: str) -> _Sandbox:
        try:
            return self._sandboxes[sandbox_id]
        except KeyError:
            raise NotFoundError("sandbox", sandbox_id) from None

    def _container(self, container_id: str) -> _Container:
        try:
            return self._containers[container_id]
        except KeyError:
            raise NotFoundError("container", container_id) from None

    def _emit(self, container: _Container, kind: ContainerEventType) -> None:
        if not self._events.has_subscribers:
            return
        sandbox = self._sandboxes.get(container.sandbox_id)
        statuses = () if kind == ContainerEventType.CONTAINER_DELETED_EVENT else (
            self._container_status(container),
        )
        event = ContainerEvent(
            container_id=container.id,
            container_event_type=kind,
            created_at=self._now(),
            pod_sandbox_status=self._sandbox_status(sandbox) if sandbox else None,
            containers_statuses=statuses,
        )
        self._events.publish(event)

    def _finish(self, container: _Container, exit_code: int) -> None:
        container.state = ContainerState.CONTAINER_EXITED
        container.finished_at = self._now()
        container.exit_code = exit_code
        container.reason = "Completed" if exit_code == 0 else "Error"
        self._emit(container, ContainerEventType.CONTAINER_STOPPED_EVENT)

    def _stop(self, container: _Container) -> None:
        if container.state == ContainerState.CONTAINER_RUNNING:
            self._finish(container, STOP_EXIT_CODE)

    def _resolve_image(self, field_name: str, ref: str) -> StoredImage:
        if not ref:
            raise InvalidArgumentError(field_name, ref, "must name an image")
        image = self._images.resolve(ref)
        if image is None:
            raise NotFoundError("image", ref, "not present; pull it first")
        return image

    # ---- runtime-wide ------------------------------------------------------------------

    def version(self) -> VersionInfo:
        # Imported here: the package's __init__ is the public API and may import plugins.
        from kubert import __version__

        return VersionInfo(runtime_name="memory", runtime_version=__version__)

    def status(self) -> RuntimeCondition:
        with self._lock:
            return self._ready

    def runtime_handlers(self) -> Sequence[RuntimeHandler]:
        return tuple(RuntimeHandler(name=h) for h in self._handlers)

    def cgroup_driver(self) -> CgroupDriver:
        return CgroupDriver.CGROUPFS

    def runtime_info(self) -> dict[str, str]:
        with self._lock:
            info = {
                "sandboxes": len(self._sandboxes),
                "containers": len(self._containers),
                "images": len(self._images.present),
                "runtimeHandlers": list(self._handlers),
            }
        return {"info": json.dumps(info)}

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._events.close()

    # ---- sandboxes ---------------------------------------------------------------------

    def create_sandbox(self, config: PodSandboxConfig, runtime_handler: str) -> SandboxCreated:
        with self._lock:
            self._check_fault("create_sandbox")
            if runtime_handler not in self._handlers:
                raise InvalidArgumentError(
                    "runtime_handler", runtime_handler,
                    f"no such runtime handler; this backend offers {list(self._handlers)}",
                )
            meta = config.metadata
            for other in self._sandboxes.values():
                if other.config.metadata == meta:
                    raise AlreadyExistsError(
                        "sandbox", f"{meta.name}_{meta.namespace}_{meta.uid}_{meta.attempt}",
                        f"used by sandbox {other.id}",
                    )
            image = self._resolve_image(
                "pod_infra_container_image", self.context.pod_infra_container_image
            )
            sandbox = _Sandbox(
                id=self._new_id(),
                config=config,
                runtime_handler=runtime_handler,
                created_at=self._now(),
                image_id=image.source.id,
            )
            self._sandboxes[sandbox.id] = sandbox
            return SandboxCreated(id=sandbox.id)

    def start_sandbox(self, sandbox_id: str) -> None:
        with self._lock:
            self._check_fault("start_sandbox")
            sandbox = self._sandbox(sandbox_id)
            if sandbox.stopped:
                raise FailedPreconditionError(
                    f"sandbox {sandbox_id!r} was stopped; create a new attempt instead"
                )
            sandbox.state = PodSandboxState.SANDBOX_READY

    def stop_sandbox(self, sandbox_id: str) -> None:
        with self._lock:
            self._check_fault("stop_sandbox")
            sandbox = self._sandbox(sandbox_id)
            for container in self._containers.values():
                if container.sandbox_id == sandbox_id:
                    self._stop(container)
            sandbox.state = PodSandboxState.SANDBOX_NOTREADY
            sandbox.stopped = True

    def remove_sandbox(self, sandbox_id: str) -> None:
        with self._lock:
            self._check_fault("remove_sandbox")
            self._sandbox(sandbox_id)
            for container in list(self._containers.values()):
                if container.sandbox_id == sandbox_id:
                    self._remove(container)
            del self._sandboxes[sandbox_id]

    def _sandbox_status(self, sandbox: _Sandbox) -> PodSandboxStatus:
        return PodSandboxStatus(
            id=sandbox.id,
            metadata=sandbox.config.metadata,
            state=sandbox.state,
            created_at=sandbox.created_at,
            linux=LinuxPodSandboxStatus(
                namespaces=Namespace(options=sandbox.config.namespace_options)
            ),
            labels=dict(sandbox.config.labels),
            annotations=dict(sandbox.config.annotations),
            runtime_handler=sandbox.runtime_handler,
        )

    def sandbox_status(self, sandbox_id: str) -> PodSandboxStatus:
        with self._lock:
            return self._sandbox_status(self._sandbox(sandbox_id))

    def sandbox_info(self, sandbox_id: str) -> dict[str, str]:
        with self._lock:
            sandbox = self._sandbox(sandbox_id)
            info = {
                "state": sandbox.state.name,
                "runtimeHandler": sandbox.runtime_handler,
                "imageId": sandbox.image_id,
                "containers": sorted(
                    c.id for c in self._containers.values() if c.sandbox_id == sandbox.id
                ),
                "config": attrs.asdict(sandbox.config),
            }
        return {"info": json.dumps(info)}

    def list_sandboxes(self, filter: PodSandboxFilter | None) -> list[PodSandbox]:
        with self._lock:
            entries = [s.entry() for s in self._sandboxes.values()]
        return [e for e in entries if filter is None or filter.matches(e)]

    def update_pod_sandbox_resources(
        self, sandbox_id: str, resources: LinuxContainerResources
    ) -> None:
        with self._lock:
            self._sandbox(sandbox_id).resources = resources

    # ---- containers --------------------------------------------------------------------

    def create_container(
        self, sandbox_id: str, config: ContainerConfig, sandbox_config: PodSandboxConfig
    ) -> str:
        with self._lock:
            self._check_fault("create_container")
            sandbox = self._sandbox(sandbox_id)
            if sandbox.state != PodSandboxState.SANDBOX_READY:
                raise FailedPreconditionError(
                    f"sandbox {sandbox_id!r} is not ready; containers are created in ready "
                    "sandboxes only"
                )
            meta = config.metadata
            for other in self._containers.values():
                if other.sandbox_id == sandbox_id and other.config.metadata == meta:
                    raise AlreadyExistsError(
                        "container", f"{meta.name}_{meta.attempt}",
                        f"used by container {other.id} in sandbox {sandbox_id}",
                    )
            image = self._resolve_image("image.image", config.image.image)
            log_dir = sandbox_config.log_directory or sandbox.config.log_directory
            container = _Container(
                id=self._new_id(),
                sandbox_id=sandbox_id,
                config=config,
                image_id=image.source.id,
                image_ref=image.digests[0] if image.digests else image.source.id,
                created_at=self._now(),
                log_path=posixpath.join(log_dir, config.log_path)
                if log_dir and config.log_path
                else "",
                resources=config.linux.resources,
            )
            self._containers[container.id] = container
            self._emit(container, ContainerEventType.CONTAINER_CREATED_EVENT)
            return container.id

    def start_container(self, container_id: str) -> None:
        with self._lock:
            self._check_fault("start_container")
            container = self._container(container_id)
            if container.state != ContainerState.CONTAINER_CREATED:
                raise FailedPreconditionError(
                    f"container {container_id!r} is {container.state.name}; only a CREATED "
                    "container can be started"
                )
            sandbox = self._sandbox(container.sandbox_id)
            if sandbox.state != PodSandboxState.SANDBOX_READY:
                raise FailedPreconditionError(
                    f"sandbox {sandbox.id!r} of container {container_id!r} is not ready"
                )
            container.state = ContainerState.CONTAINER_RUNNING
            container.started_at = self._now()
            self._emit(container, ContainerEventType.CONTAINER_STARTED_EVENT)
            code = commands.exit_on_start(container.argv)
            if code is not None:
                self._finish(container, code)

    def stop_container(self, container_id: str, timeout: int) -> None:
        with self._lock:
            self._check_fault("stop_container")
            self._stop(self._container(container_id))

    def remove_container(self, container_id: str) -> None:
        with self._lock:
            self._check_fault("remove_container")
            self._remove(self._container(container_id))

    def _remove(self, container: _Container) -> None:
        self._stop(container)
        del self._containers[container.id]
        self._emit(container, ContainerEventType.CONTAINER_DELETED_EVENT)

    def _container_status(self, c: _Container) -> ContainerStatus:
        return ContainerStatus(
            id=c.id,
            metadata=c.config.metadata,
            state=c.state,
            created_at=c.created_at,
            started_at=c.started_at,
            finished_at=c.finished_at,
            exit_code=c.exit_code,
            image=c.config.image,
            image_ref=c.image_ref,
            image_id=c.image_id,
            reason=c.reason,
            labels=dict(c.config.labels),
            annotations=dict(c.config.annotations),
            mounts=c.config.mounts,
            log_path=c.log_path,
            resources=ContainerResources(linux=c.resources) if c.resources else None,
        )

    def container_info(self, container_id: str) -> dict[str, str]:
        with self._lock:
            container = self._container(container_id)
            info = {
                "sandboxID": container.sandbox_id,
                "state": container.state.name,
                "argv": list(container.argv),
                "imageRef": container.image_ref,
                "logReopens": container.log_reopens,
                "config": attrs.asdict(container.config),
            }
        return {"info": json.dumps(info)}

    def container_status(self, container_id: str) -> ContainerStatus:
        with self._lock:
            return self._container_status(self._container(container_id))

    def list_containers(self, filter: ContainerFilter | None) -> list[Container]:
        with self._lock:
            entries = [c.entry() for c in self._containers.values()]
        return [e for e in entries if filter is None or filter.matches(e)]

    # ---- optional operations -----------------------------------------------------------

    def update_container_resources(
        self, container_id: str, resources: LinuxContainerResources
    ) -> None:
        with self._lock:
            container = self._container(container_id)
            if container.state == ContainerState.CONTAINER_EXITED:
                raise FailedPreconditionError(
                    f"container {container_id!r} has exited; its resources cannot change"
                )
            container.resources = resources

    def reopen_container_log(self, container_id: str) -> None:
        with self._lock:
            container = self._container(container_id)
            if container.state != ContainerState.CONTAINER_RUNNING:
                raise FailedPreconditionError(
                    f"container {container_id!r} is not running; its log is closed"
                )
            container.log_reopens += 1

    def exec_sync(self, container_id: str, cmd: Sequence[str], timeout: int) -> ExecSyncResult:
        if not cmd:
            raise InvalidArgumentError("cmd", list(cmd), "must not be empty")
        with self._lock:
            container = self._container(container_id)
            if container.state != ContainerState.CONTAINER_RUNNING:
                raise FailedPreconditionError(
                    f"container {container_id!r} is {container.state.name}, not running"
                )
            sandbox = self._sandboxes[container.sandbox_id]
            env = {kv.key: kv.value for kv in container.config.envs}
            hostname = sandbox.config.hostname or sandbox.config.metadata.name
        outcome = commands.run_exec(cmd, timeout, env, hostname)
        return ExecSyncResult(
            stdout=outcome.stdout, stderr=outcome.stderr, exit_code=outcome.exit_code
        )

    def _container_stats(self, c: _Container, now: int) -> ContainerStats:
        running = c.state == ContainerState.CONTAINER_RUNNING
        ran_ns = ((c.finished_at or now) - c.started_at) if c.started_at else 0
        image_size = self._images.present.get(c.image_id)
        return ContainerStats(
            attributes=ContainerAttributes(
                id=c.id,
                metadata=c.config.metadata,
                labels=dict(c.config.labels),
                annotations=dict(c.config.annotations),
            ),
            # A deterministic 1% of a core while it ran, and a fixed 1 MiB working set.
            cpu=CpuUsage(
                timestamp=now,
                usage_core_nano_seconds=ran_ns // 100,
                usage_nano_cores=10_000_000 if running else 0,
            ),
            memory=MemoryUsage(
                timestamp=now,
                working_set_bytes=1 << 20 if running else 0,
                usage_bytes=1 << 20 if running else 0,
                rss_bytes=1 << 19 if running else 0,
                page_faults=0,
                major_page_faults=0,
            ),
            writable_layer=FilesystemUsage(
                timestamp=now,
                fs_id=FilesystemIdentifier(mountpoint=self._mountpoint()),
                used_bytes=4096 if image_size else 0,
                inodes_used=1,
            ),
        )

    def container_stats(self, container_id: str) -> ContainerStats:
        with self._lock:
            return self._container_stats(self._container(container_id), self._now())

    def list_container_stats(self, filter: ContainerStatsFilter | None) -> list[ContainerStats]:
        with self._lock:
            now = self._now()
            chosen = [
                c for c in self._containers.values()
                if filter is None or filter.matches(c.id, c.sandbox_id, c.config.labels)
            ]
            return [self._container_stats(c, now) for c in chosen]

    def _pod_stats(self, sandbox: _Sandbox, now: int) -> PodSandboxStats:
        containers = tuple(
            self._container_stats(c, now)
            for c in self._containers.values()
            if c.sandbox_id == sandbox.id
        )
        running = sum(1 for c in containers if c.memory and c.memory.working_set_bytes)
        return PodSandboxStats(
            attributes=PodSandboxAttributes(
                id=sandbox.id,
                metadata=sandbox.config.metadata,
                labels=dict(sandbox.config.labels),
                annotations=dict(sandbox.config.annotations),
            ),
            linux=LinuxPodSandboxStats(
                cpu=CpuUsage(
                    timestamp=now,
                    usage_core_nano_seconds=sum(
                        c.cpu.usage_core_nano_seconds or 0 for c in containers if c.cpu
                    ),
                    usage_nano_cores=sum(
                        c.cpu.usage_nano_cores or 0 for c in containers if c.cpu
                    ),
                ),
                memory=MemoryUsage(
                    timestamp=now,
                    working_set_bytes=sum(
                        c.memory.working_set_bytes or 0 for c in containers if c.memory
                    ),
                ),
                process=ProcessUsage(timestamp=now, process_count=running),
                containers=containers,
            ),
        )

    def pod_sandbox_stats(self, sandbox_id: str) -> PodSandboxStats:
        with self._lock:
            return self._pod_stats(self._sandbox(sandbox_id), self._now())

    def list_pod_sandbox_stats(
        self, filter: PodSandboxStatsFilter | None
    ) -> list[PodSandboxStats]:
        with self._lock:
            now = self._now()
            return [
                self._pod_stats(s, now)
                for s in self._sandboxes.values()
                if filter is None or filter.matches(s.id, s.config.labels)
            ]

    def container_events(self) -> Iterator[ContainerEvent]:
        """Events from the moment of this call on; the iterator ends when the backend closes."""
        return self._events.subscribe()

    def list_metric_descriptors(self) -> list[MetricDescriptor]:
        return list(METRIC_DESCRIPTORS)

    def list_pod_sandbox_metrics(self) -> list[PodSandboxMetrics]:
        """The cAdvisor series of the made-up stats above, for every ready sandbox."""
        with self._lock:
            now = self._now()
            images = {c.id: c.config.image.image for c in self._containers.values()}
            images.update({s: self.context.pod_infra_container_image for s in self._sandboxes})
            ready = [
                self._pod_stats(s, now) for s in self._sandboxes.values()
                if s.state == PodSandboxState.SANDBOX_READY
            ]
        return [pod_sandbox_metrics(stats, images, now) for stats in ready]

    # ---- images ------------------------------------------------------------------------

    def _image(self, stored: StoredImage) -> Image:
        return Image(
            id=stored.source.id,
            repo_tags=tuple(stored.tags),
            repo_digests=tuple(stored.digests),
            size=stored.source.size,
            uid=0,
            # The kubelet's image GC must never remove the infra image (containerd pins it).
            pinned=stored is self._images.resolve(self.context.pod_infra_container_image),
        )

    def list_images(self, filter: ImageFilter | None) -> list[Image]:
        with self._lock:
            ref = filter.image.image if filter and filter.image else ""
            chosen = self._images.matching(ref) if ref else list(self._images.present.values())
            return [self._image(i) for i in chosen]

    def image_status(self, image: ImageSpec) -> Image | None:
        with self._lock:
            found = self._images.resolve(image.image)
            return self._image(found) if found else None

    def image_info(self, image: ImageSpec) -> dict[str, str]:
        with self._lock:
            found = self._images.resolve(image.image)
            if found is None:
                return {}
            info = {
                "id": found.source.id,
                "manifestDigest": found.source.digest,
                "size": found.source.size,
                "repoTags": list(found.tags),
                "repoDigests": list(found.digests),
            }
        return {"info": json.dumps(info)}

    def pull_image(
        self,
        image: ImageSpec,
        auth: AuthConfig | None,
        sandbox_config: PodSandboxConfig | None,
        progress: Callable[[PullProgress], None] | None = None,
    ) -> str:
        if not image.image:
            raise InvalidArgumentError("image.image", image.image, "must name an image")
        with self._lock:
            self._check_fault("pull_image")
            stored = self._images.pull(image.image)
        if progress is not None:
            size = stored.source.size
            layer = stored.source.digest[7:19]
            progress(PullProgress(image=image.image, layer=layer, status="Downloading",
                                  current=size // 2, total=size))
            progress(PullProgress(image=image.image, layer=layer, status="Pull complete",
                                  current=size, total=size))
        return stored.source.id

    def remove_image(self, image: ImageSpec) -> None:
        with self._lock:
            self._check_fault("remove_image")
            found = self._images.resolve(image.image)
            if found is None:
                return
            users = [c.id for c in self._containers.values() if c.image_id == found.source.id]
            users += [s.id for s in self._sandboxes.values() if s.image_id == found.source.id]
            if users:
                raise FailedPreconditionError(
                    f"image {image.image!r} is in use by {len(users)} container(s) or "
                    f"sandbox(es), e.g. {users[0]}"
                )
            self._images.remove(found)

    def _mountpoint(self) -> str:
        return str(self.context.root_dir / "memory")

    def image_fs_info(self) -> ImageFsInfo:
        with self._lock:
            now = self._now()
            used = sum(i.source.size for i in self._images.present.values())
            count = len(self._images.present)
            layers = len(self._containers)
        fs_id = FilesystemIdentifier(mountpoint=self._mountpoint())
        return ImageFsInfo(
            image_filesystems=(
                FilesystemUsage(timestamp=now, fs_id=fs_id, used_bytes=used, inodes_used=count),
            ),
            container_filesystems=(
                FilesystemUsage(
                    timestamp=now, fs_id=fs_id, used_bytes=4096 * layers, inodes_used=layers
                ),
            ),
        )


@hookimpl
def kubert_register_backends(register: RegisterBackend) -> None:
    register("memory", MemoryBackend)
