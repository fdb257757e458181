"""The ``docker`` runtime backend: sandboxes as pause containers, containers joining them.

Engine calls that do work (create, start, stop, remove) go straight to the engine and then
refresh the objects they touched in the :class:`~kubert_docker.state.StateView`; everything
that only reads (lists, statuses, stats) is answered from that view and from cgroup files.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import attrs

from kubert import (
    METRIC_DESCRIPTORS,
    RUNTIME_READY,
    AlreadyExistsError,
    AttachRequest,
    BackendContext,
    CgroupDriver,
    Container,
    ContainerConfig,
    ContainerEvent,
    ContainerEventType,
    ContainerFilter,
    ContainerState,
    ContainerStats,
    ContainerStatsFilter,
    ContainerStatus,
    EventBroadcaster,
    ExecRequest,
    ExecSyncResult,
    FailedPreconditionError,
    KubertError,
    LinuxContainerResources,
    MetricDescriptor,
    NamespaceMode,
    NotFoundError,
    PodSandbox,
    PodSandboxConfig,
    PodSandboxFilter,
    PodSandboxMetrics,
    PodSandboxStats,
    PodSandboxStatsFilter,
    PodSandboxStatus,
    PortForwardRequest,
    ProcessStream,
    RuntimeBackend,
    RuntimeCondition,
    RuntimeHandler,
    SandboxCreated,
    VersionInfo,
)
from kubert_docker import cadvisor, dns, execsync, naming, netns, podstats, spec, streams, verbose
from kubert_docker.engine import Engine, translate
from kubert_docker.engineapi import EngineAPI, Pending
from kubert_docker.logcopy import LogCopying
from kubert_docker.oom import detect_floor
from kubert_docker.podfiles import PodFiles, network_disabled
from kubert_docker.privileged import detect as detect_privileged
from kubert_docker.settings import DockerConfig
from kubert_docker.state import StateView
from kubert_docker.stats import StatsReader
from kubert_docker.status import Record
from kubert_docker.sysfs import PodSysfs

log = logging.getLogger(__name__)
#: An engine container ID in full (what names kubert's per-sandbox files on the host).
_FULL_ID = re.compile(r"[0-9a-f]{64}")

_CONFLICT_RE = re.compile(r'already in use by container "?([0-9a-f]{12,64})')
_EVENT_TYPES = {
    "create": ContainerEventType.CONTAINER_CREATED_EVENT,
    "start": ContainerEventType.CONTAINER_STARTED_EVENT,
    "die": ContainerEventType.CONTAINER_STOPPED_EVENT,
    "destroy": ContainerEventType.CONTAINER_DELETED_EVENT,
}
#: Grace period of the pause container (it exits on SIGTERM at once).
_SANDBOX_STOP_TIMEOUT = 10


class DockerRuntime(RuntimeBackend):
    """Pods on a docker engine, named and labelled as dockershim did."""

    name: ClassVar[str] = "docker"

    def __init__(self, context: BackendContext) -> None:
        super().__init__(context)
        self.config = DockerConfig.from_options(context.options)
        self.engine = Engine(self.config.endpoint, self.config.runtime_request_timeout)
        self.root = Path(context.root_dir) / "docker"
        self.netns = netns.NetnsLinks(self.root / "netns")
        self.sysfs = PodSysfs(self.root / "sysfs")
        self.pod_files = PodFiles(self.root / "pods")
        self.oom_floor = detect_floor(self.config.restrict_oom_score_adj)
        self.privileged = detect_privileged(self.config.privileged_mode)
        self.facts = spec.HostFacts(oom_floor=self.oom_floor, privileged=self.privileged)
        self._info: dict[str, Any] = {}
        self._driver_error = ""
        self._image_refs: dict[str, str] = {}
        self.logs = LogCopying(
            self.engine, self.root / "logs", lambda: str(self._info.get("DockerRootDir", ""))
        )
        self._created_here: set[str] = set()
        self._events = EventBroadcaster()
        self.stats = StatsReader(mountpoint="")
        #: Stops begin_stop_sandbox sent, by sandbox, until stop_sandbox awaits them.
        self._stopping: dict[str, list[tuple[str, tuple[str, Pending] | KubertError | None]]] = {}
        self.state = StateView(
            self.engine,
            image_ref=self._image_ref,
            on_event=self._on_event,
            before_exit=self._drain_log,
            on_images_changed=self._image_refs.clear,
            on_synced=self._on_synced,
            resync_period=self.config.resync_period,
        )
        self.state.start()

    def close(self) -> None:
        self._events.close()
        self.state.close()
        self.logs.close()
        self.engine.close()

    # ---- engine facts ------------------------------------------------------------------

    def _on_synced(self) -> None:
        """After every (re)connection: learn the engine, resume log copying, fix netns links."""
        with translate("engine", "info"):
            info = self.engine.api().info()
        self._info = info
        self.facts = spec.HostFacts(
            oom_floor=self.oom_floor,
            privileged=self.privileged,
            apparmor=any("apparmor" in str(o) for o in info.get("SecurityOptions") or ()),
            runtimes=frozenset((info.get("Runtimes") or {}).keys()),
        )
        root, driver = info.get("DockerRootDir", ""), info.get("Driver", "")
        self.stats.mountpoint = f"{root}/{driver}" if root and driver else str(root)
        engine_driver = str(info.get("CgroupDriver", ""))
        wanted = self.config.cgroup_driver
        self._driver_error = (
            f"kubert is configured with --cgroup-driver={wanted} but the docker engine at "
            f"{self.engine.endpoint} uses {engine_driver}; set the same driver on both "
            "(and on the kubelet)"
            if wanted and engine_driver and wanted != engine_driver
            else ""
        )
        if self._driver_error:
            log.error("%s", self._driver_error)
        self.sysfs.sweep({r.id for r in self.state.all(naming.TYPE_SANDBOX) if r.running})
        self.netns.sweep(lambda: [
            r for r in self.state.all(naming.TYPE_SANDBOX)
            if r.running and not netns.host_network(r)
        ])
        self.logs.resume_all(self.state.all(naming.TYPE_CONTAINER))
        sandboxes = self.state.all(naming.TYPE_SANDBOX)
        self.pod_files.sweep(r.id for r in sandboxes)
        for record in sandboxes:
            if record.running and network_disabled(record.inspect):
                self.pod_files.ensure(record.id, record.meta.extra.get("dns"))

    def _check_driver(self) -> None:
        if self._driver_error:
            raise FailedPreconditionError(self._driver_error)

    def version(self) -> VersionInfo:
        with translate("engine", "version"):
            # Asked once per endpoint (the API negotiation's own answer), again only after the
            # engine went away and came back.
            info = self.engine.server_version()
        return VersionInfo(
            runtime_name="docker",
            runtime_version=str(info.get("Version", "")),
            runtime_api_version=str(info.get("ApiVersion", "")),
        )

    def status(self) -> RuntimeCondition:
        try:
            with translate("engine", "ping"):
                self.engine.api().ping()
        except Exception as exc:  # any failure to answer means the runtime is not ready
            self.state.mark_down(str(exc))
            return RuntimeCondition.not_ready(
                RUNTIME_READY, "DockerDaemonNotReady", f"docker engine unreachable: {exc}"
            )
        if not self.state.healthy:
            return RuntimeCondition.not_ready(
                RUNTIME_READY, "DockerDaemonNotReady",
                f"re-reading the engine's state: {self.state.last_error}",
            )
        if self._driver_error:
            return RuntimeCondition.not_ready(
                RUNTIME_READY, "CgroupDriverMismatch", self._driver_error
            )
        return RuntimeCondition.ready(RUNTIME_READY)

    def runtime_handlers(self) -> Sequence[RuntimeHandler]:
        names = {"", *self.config.runtime_handlers}
        names.update(self.facts.runtimes)
        return tuple(RuntimeHandler(name=n) for n in sorted(names))

    def cgroup_driver(self) -> CgroupDriver:
        self.state.check()
        driver = str(self._info.get("CgroupDriver", "cgroupfs"))
        return CgroupDriver.SYSTEMD if driver == "systemd" else CgroupDriver.CGROUPFS

    def runtime_info(self) -> dict[str, str]:
        return verbose.runtime_info(self._info, self.config, self.privileged)

    # ---- creating ----------------------------------------------------------------------

    def _create(self, name: str, body: dict[str, Any], kind: str, ident: str) -> str:
        """Create a container; recover a name left by a crash the way dockershim does."""
        api = self.engine.api()
        try:
            with translate(kind, ident):
                return str(api.create_container_from_config(body, name)["Id"])
        except AlreadyExistsError as exc:
            match = _CONFLICT_RE.search(exc.message)
            if match is None or self._is_ours(match.group(1)):
                raise
            conflicting = match.group(1)
        # A name this process never handed out: the leftover of a crash between create and
        # reply, or the engine's stale reservation. A stopped leftover is removed; a missing
        # one gets a randomized name (which the name parser ignores).
        log.warning("name %s is held by unknown container %s; recovering", name, conflicting)
        try:
            with translate(kind, conflicting):
                info = api.inspect_container(conflicting)
                if (info.get("State") or {}).get("Running"):
                    raise AlreadyExistsError(kind, ident, f"running as {conflicting}")
                api.remove_container(conflicting, v=True)
            self.state.forget(conflicting)
            name_to_use = name
        except NotFoundError:
            name_to_use = naming.randomized(name)
        with translate(kind, ident):
            return str(api.create_container_from_config(body, name_to_use)["Id"])

    def _is_ours(self, prefix: str) -> bool:
        return any(cid.startswith(prefix) for cid in self._created_here)

    def _image_ref(self, image_id: str) -> str:
        """The repo digest of an image when it has one, else its ID (cached per ID)."""
        ref = self._image_refs.get(image_id)
        if ref is None:
            ref = image_id
            facts = self.engine.facts
            info = facts.cached_image(image_id)
            if info is None:
                generation = facts.generation()
                try:
                    # Needed once per image ID (until an image event): the digest the CRI
                    # reports as image_ref is the image's, not the container's.
                    with translate("image", image_id):
                        info = self.engine.api().inspect_image(image_id)
                    facts.store_image(image_id, info, generation)
                except NotFoundError:
                    info = {}
            digests = [d for d in info.get("RepoDigests") or () if d != "<none>@<none>"]
            ref = digests[0] if digests else image_id
            self._image_refs[image_id] = ref
        return ref

    # ---- sandboxes ---------------------------------------------------------------------

    def create_sandbox(self, config: PodSandboxConfig, runtime_handler: str) -> SandboxCreated:
        self.state.check()
        self._check_driver()
        name, body, meta = spec.sandbox_body(
            config, self.context.pod_infra_container_image, runtime_handler, self.config,
            self.facts,
        )
        if config.dns_config is not None:
            # Kept for a host-network sandbox's resolv.conf, and to write a pod's files again.
            meta.extra["dns"] = dns.dns_dict(config.dns_config)
            body["Labels"][naming.META_LABEL] = meta.encode()
        with self.state.creating(name):
            sandbox_id = self._create(name, body, "sandbox", name)
            self._created_here.add(sandbox_id)
            if body.get("NetworkDisabled"):
                self.pod_files.write(sandbox_id, meta.extra.get("dns"))
            # Not inspected here: start_sandbox follows in the same RunPodSandbox and its one
            # inspect tells everything the engine made.
            self.state.provisional(sandbox_id, name, body)
        host = config.namespace_options.network == NamespaceMode.NODE
        netns_path = "" if host else self.netns.path(sandbox_id)
        return SandboxCreated(id=sandbox_id, netns_path=netns_path)

    def _sandbox(self, sandbox_id: str, complete: bool = True) -> Record:
        return self.state.get(sandbox_id, naming.TYPE_SANDBOX, complete)

    def _container(self, container_id: str, complete: bool = True) -> Record:
        return self.state.get(container_id, naming.TYPE_CONTAINER, complete)

    def start_sandbox(self, sandbox_id: str) -> None:
        record = self._sandbox(sandbox_id, complete=False)
        if record.finished_at:
            raise FailedPreconditionError(
                f"sandbox {sandbox_id!r} was stopped; create a new attempt instead"
            )
        with self.state.writing(record.id):
            try:
                with translate("sandbox", sandbox_id):
                    self.engine.api().start(record.id)
            finally:
                # Needed: the pause process's pid (the netns the network plugin joins next)
                # and the engine's own times, which no event carries.
                started = self.state.refresh(record.id)
        if started is None:
            raise NotFoundError("sandbox", sandbox_id, "it vanished while starting")
        if not netns.host_network(started):
            self.netns.link(started)
        dns.write_resolv_conf(started)

    def begin_stop_sandbox(self, sandbox_id: str) -> None:
        """Send the stops of the sandbox's running app containers (no grace period: the
        kubelet has given theirs already), so that the engine's work on them overlaps the
        network teardown; :meth:`stop_sandbox` awaits them. The pause container, which holds
        the netns the teardown needs, keeps running."""
        try:
            record = self._sandbox(sandbox_id, complete=False)
        except KubertError:
            return  # stop_sandbox says what is wrong
        api = self.engine.api()
        begun = [
            (c.id, self._begin_stop(api, "container", c.id, 0))
            for c in self.state.in_sandbox(record.id, complete=False)
            if c.running
        ]
        if begun:
            self._stopping[record.id] = begun

    def stop_sandbox(self, sandbox_id: str) -> None:
        record = self._sandbox(sandbox_id, complete=False)
        members = self.state.in_sandbox(record.id, complete=False)
        early = self._stopping.pop(record.id, [])
        if not early and not record.running and not any(c.running for c in members):
            return  # stopped already: the view is current, the engine has nothing to do
        # The kubelet has given the containers their grace period already (containerd too
        # stops them at once here). The app containers and the pause container stop at the
        # same time: each stop is an engine round trip of its own (runc kill, the exit, the
        # event). Those begin_stop_sandbox did not send (it found them not running yet) are
        # sent now with the pause container's, each on a connection of its own, and all are
        # awaited together: no thread per container.
        api = self.engine.api()
        sent_early = {cid for cid, _ in early}
        late = [c.id for c in members if c.running and c.id not in sent_early]
        sent = [
            *early,
            *((cid, self._begin_stop(api, "container", cid, 0)) for cid in late),
            (record.id, self._begin_stop(api, "sandbox", record.id, _SANDBOX_STOP_TIMEOUT)),
        ]
        apps = [*(cid for cid, _ in early), *late]
        answers = [(ident, self._finish_stop(ident, begun)) for ident, begun in sent]
        failed = {ident: error for ident, error in answers if error is not None}
        if record.id in failed:
            raise failed[record.id]
        self.netns.unlink(record.id)
        self.sysfs.release(record.id)
        self.state.wait_exited(record.id)
        for cid in apps:
            if cid not in failed:
                self._drain_log(cid)
                self.state.wait_exited(cid)
        if failed:
            raise next(iter(failed.values()))

    @staticmethod
    def _begin_stop(
        api: EngineAPI, kind: str, ident: str, grace: int
    ) -> tuple[str, Pending] | KubertError | None:
        """A stop of ``ident`` sent (with its kind, for the error of its answer), the error
        that sending it met, or None when there is nothing to stop."""
        try:
            with translate(kind, ident):
                return kind, api.begin_stop(ident, timeout=grace)
        except NotFoundError:
            return None
        except KubertError as error:
            return error

    @staticmethod
    def _finish_stop(
        ident: str, begun: tuple[str, Pending] | KubertError | None
    ) -> KubertError | None:
        """Wait for the answer of a stop :meth:`_begin_stop` sent; its error, if any."""
        if not isinstance(begun, tuple):
            return begun
        kind, pending = begun
        try:
            with contextlib.suppress(NotFoundError), translate(kind, ident):
                pending.finish()
        except KubertError as error:
            return error
        return None

    def remove_sandbox(self, sandbox_id: str) -> None:
        try:
            record = self._sandbox(sandbox_id, complete=False)
        except NotFoundError:
            # Its engine container was removed behind kubert's back (the core still removes
            # the sandbox its checkpoint remembers): what kubert keeps on the host for it goes
            # too. Only a full ID names those files; a prefix names nothing here.
            if _FULL_ID.fullmatch(sandbox_id):
                self._release_host_files(sandbox_id)
            raise
        for container in self.state.in_sandbox(record.id, complete=False):
            self._remove(container.id)
        self._remove(record.id)
        self._release_host_files(record.id)

    def _release_host_files(self, sandbox_id: str) -> None:
        """Drop the netns link, the pod's own sysfs and the pod's files of a removed sandbox."""
        self.netns.unlink(sandbox_id)
        self.sysfs.release(sandbox_id)
        self.pod_files.remove(sandbox_id)

    def _remove(self, cid: str) -> None:
        with contextlib.suppress(NotFoundError), translate("container", cid):
            self.engine.api().remove_container(cid, force=True, v=True)
        self.logs.forget(cid)
        self.stats.forget(cid)
        self.state.forget(cid)
        self._created_here.discard(cid)

    def sandbox_status(self, sandbox_id: str) -> PodSandboxStatus:
        status = self._sandbox(sandbox_id).status
        assert isinstance(status, PodSandboxStatus)
        return _copy_maps(status)

    def list_sandboxes(self, filter: PodSandboxFilter | None) -> list[PodSandbox]:
        """The view's prebuilt entries themselves (read-only; the same objects until the
        engine reports a change), so that a relist copies nothing."""
        entries = [r.entry for r in self.state.all(naming.TYPE_SANDBOX)]
        return [
            e for e in entries
            if isinstance(e, PodSandbox) and (filter is None or filter.matches(e))
        ]

    def sandbox_netns_path(self, sandbox_id: str) -> str:
        record = self._sandbox(sandbox_id)
        if not record.running or netns.host_network(record):
            return ""
        self.netns.link(record)
        return self.netns.path(record.id)

    def sandbox_info(self, sandbox_id: str) -> dict[str, str]:
        return verbose.sandbox_info(self._sandbox(sandbox_id), self.sandbox_netns_path(sandbox_id))

    # ---- containers --------------------------------------------------------------------

    def create_container(
        self, sandbox_id: str, config: ContainerConfig, sandbox_config: PodSandboxConfig
    ) -> str:
        self._check_driver()
        sandbox = self._sandbox(sandbox_id)
        if not sandbox.running:
            raise FailedPreconditionError(
                f"sandbox {sandbox_id!r} is not ready; containers are created in ready "
                "sandboxes only"
            )
        sc = config.linux.security_context
        runtime = spec.runtime_for(
            str(sandbox.meta.extra.get("runtime_handler", "")), self.config, self.facts
        )
        name, body, _meta = spec.container_body(
            sandbox.id,
            spec.ns_from_dict(sandbox.meta.extra.get("namespace_options")),
            config,
            sandbox_config,
            self.config,
            self.facts,
            runtime,
            self._pod_sysfs(sandbox, config),
            self.pod_files.binds(sandbox.id, config.mounts, sc.readonly_rootfs)
            if network_disabled(sandbox.inspect) else (),
        )
        with self.state.creating(name):
            container_id = self._create(name, body, "image", config.image.image)
            self._created_here.add(container_id)
            # Not inspected here: StartContainer follows, and its one inspect tells everything
            # the engine made (a read before that inspects it then).
            self.state.provisional(container_id, name, body)
        return container_id

    def _pod_sysfs(self, sandbox: Record, config: ContainerConfig) -> str:
        """The pod's own sysfs for a privileged container spelled out in a pod network."""
        if (not config.linux.security_context.privileged or self.facts.privileged.native
                or netns.host_network(sandbox)):
            return ""
        try:
            return self.sysfs.mount(sandbox.id, sandbox.pid)
        except OSError as error:
            raise FailedPreconditionError(str(error)) from None

    def start_container(self, container_id: str) -> None:
        record = self._container(container_id, complete=False)
        status = record.status
        if status.state != ContainerState.CONTAINER_CREATED:
            raise FailedPreconditionError(
                f"container {container_id!r} is {ContainerState(status.state).name}; only a "
                "CREATED container can be started"
            )
        sandbox = self.state.records.get(record.sandbox_id)
        if sandbox is None or not sandbox.running:
            raise FailedPreconditionError(
                f"sandbox {record.sandbox_id!r} of container {container_id!r} is not ready"
            )
        with self.state.writing(record.id):
            try:
                with translate("container", container_id):
                    self.engine.api().start(record.id)
            except BaseException:
                self.state.refresh(record.id)
                raise
            # The copy exists before the state is read back, so that a container that is
            # already gone is reported EXITED only once its output is in the file.
            self.logs.start(record, fresh=True)
            # Needed: the process's pid (its cgroups for stats) and the engine's start time,
            # which no event carries.
            started = self.state.refresh(record.id)
        if started is not None and not started.running:
            self._drain_log(record.id)

    def stop_container(self, container_id: str, timeout: int) -> None:
        record = self._container(container_id, complete=False)
        if record.running:
            with translate("container", container_id):
                self.engine.api().stop(record.id, timeout=max(0, timeout))
            self._drain_log(record.id)
            self.state.wait_exited(record.id)
        # Not running in the view already: the view is event-fed, the engine has nothing to do.

    def remove_container(self, container_id: str) -> None:
        record = self._container(container_id, complete=False)
        self._remove(record.id)

    def container_status(self, container_id: str) -> ContainerStatus:
        status = self._container(container_id).status
        assert isinstance(status, ContainerStatus)
        return _copy_maps(status)

    def container_info(self, container_id: str) -> dict[str, str]:
        return verbose.container_info(self._container(container_id))

    def list_containers(self, filter: ContainerFilter | None) -> list[Container]:
        """The view's prebuilt entries themselves, as :meth:`list_sandboxes`."""
        entries = [r.entry for r in self.state.all(naming.TYPE_CONTAINER)]
        return [
            e for e in entries
            if isinstance(e, Container) and (filter is None or filter.matches(e))
        ]

    def update_container_resources(
        self, container_id: str, resources: LinuxContainerResources
    ) -> None:
        record = self._container(container_id)
        if record.status.state == ContainerState.CONTAINER_EXITED:
            raise FailedPreconditionError(
                f"container {container_id!r} has exited; its resources cannot change"
            )
        body = spec.resources_body(resources, self.config, self.facts, create=False)
        kwargs = {
            "cpu_shares": body.get("CpuShares"),
            "cpu_quota": body.get("CpuQuota"),
            "cpu_period": body.get("CpuPeriod"),
            "cpuset_cpus": body.get("CpusetCpus"),
            "cpuset_mems": body.get("CpusetMems"),
            "mem_limit": body.get("Memory"),
            "memswap_limit": body.get("MemorySwap"),
        }
        with self.state.writing(record.id):
            with translate("container", container_id):
                self.engine.sdk().update_container(
                    record.id, **{k: v for k, v in kwargs.items() if v is not None}
                )
            # Needed: the resources as the engine applied them (it normalises some).
            self.state.refresh(record.id)

    # ---- logs --------------------------------------------------------------------------

    def _drain_log(self, container_id: str) -> None:
        self.logs.drain(container_id)

    def reopen_container_log(self, container_id: str) -> None:
        record = self._container(container_id)
        if not record.running:
            raise FailedPreconditionError(
                f"container {container_id!r} is not running; its log is closed"
            )
        self.logs.reopen(record)

    # ---- exec and streams --------------------------------------------------------------

    def _running(self, container_id: str) -> Record:
        record = self._container(container_id)
        if not record.running:
            state = ContainerState(record.status.state).name
            raise FailedPreconditionError(f"container {container_id!r} is {state}, not running")
        return record

    def exec_sync(self, container_id: str, cmd: Sequence[str], timeout: int) -> ExecSyncResult:
        record = self._running(container_id)
        return execsync.exec_sync(
            self.engine, record.id, cmd, timeout, self.config.exec_output_limit
        )

    def exec_stream(self, request: ExecRequest) -> ProcessStream:
        record = self._running(request.container_id)
        return streams.exec_stream(self.engine, record.id, request)

    def attach_stream(self, request: AttachRequest) -> ProcessStream:
        record = self._running(request.container_id)
        tty = bool((record.inspect.get("Config") or {}).get("Tty"))
        return streams.attach_stream(self.engine, record.id, request, tty)

    def port_forward_stream(self, request: PortForwardRequest, port: int) -> Any:
        record = self._sandbox(request.pod_sandbox_id)
        if not record.running:
            raise FailedPreconditionError(f"sandbox {request.pod_sandbox_id!r} is not ready")
        return streams.connect_in_netns(record.pid, port)

    # ---- stats -------------------------------------------------------------------------

    def container_stats(self, container_id: str) -> ContainerStats:
        return podstats.container_stats(self.stats, self._container(container_id), time.time_ns())

    def list_container_stats(self, filter: ContainerStatsFilter | None) -> list[ContainerStats]:
        return podstats.list_container_stats(self.stats, self.state, filter)

    def pod_sandbox_stats(self, sandbox_id: str) -> PodSandboxStats:
        return podstats.pod_stats(self.stats, self.state, self._sandbox(sandbox_id), time.time_ns())

    def list_pod_sandbox_stats(
        self, filter: PodSandboxStatsFilter | None
    ) -> list[PodSandboxStats]:
        return podstats.list_pod_stats(self.stats, self.state, filter)

    def list_metric_descriptors(self) -> list[MetricDescriptor]:
        return [*METRIC_DESCRIPTORS, *cadvisor.DESCRIPTORS]

    def list_pod_sandbox_metrics(self) -> list[PodSandboxMetrics]:
        return podstats.pod_metrics(self.stats, self.state)

    # ---- events ------------------------------------------------------------------------

    def _on_event(self, action: str, cid: str, record: Record | None, when: int) -> None:
        if action == "die" and record is not None and record.is_sandbox:
            self.netns.unlink(record.id)
        kind = _EVENT_TYPES.get(action)
        if kind is None or not self._events.has_subscribers:
            return
        sandbox_id = record.sandbox_id if record is not None else ""
        sandbox = self.state.lookup(sandbox_id) if sandbox_id else None
        sandbox_status = sandbox.status if sandbox is not None else None
        members = tuple(
            c.status for c in self.state.in_sandbox(sandbox_id)
            if isinstance(c.status, ContainerStatus)
        ) if sandbox_id else ()
        event = ContainerEvent(
            container_id=cid,
            container_event_type=kind,
            created_at=when,
            pod_sandbox_status=sandbox_status if isinstance(sandbox_status, PodSandboxStatus)
            else None,
            containers_statuses=members,
        )
        self._events.publish(event)

    def container_events(self) -> Iterator[ContainerEvent]:
        """Events from the moment of this call on; the iterator ends when the backend closes."""
        return self._events.subscribe()


_T = TypeVar("_T", PodSandboxStatus, ContainerStatus)


def _copy_maps(answer: _T) -> _T:
    """The prebuilt status with its own label and annotation dicts (callers may change them)."""
    return attrs.evolve(answer, labels=dict(answer.labels), annotations=dict(answer.annotations))

