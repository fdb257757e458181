"""Backend contracts: what a runtime, image, network or checkpoint plugin implements.

A plugin hands its classes to the host through ``kubert_register_backends``; configuration picks
one of each kind by name, and the host builds it with a :class:`BackendContext`. Methods marked
REQUIRED are abstract. The others have defaults: optional operations raise
:class:`~kubert.errors.UnimplementedError` naming the backend, which the CRI server answers as
UNIMPLEMENTED.
"""

from __future__ import annotations

import socket
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from attrs import field, frozen

from kubert.errors import UnimplementedError
from kubert.model import (
    AttachRequest,
    AuthConfig,
    Checkpoint,
    Container,
    ContainerConfig,
    ContainerEvent,
    ContainerFilter,
    ContainerStats,
    ContainerStatsFilter,
    ContainerStatus,
    DNSConfig,
    ExecRequest,
    ExecSyncResult,
    Image,
    ImageFilter,
    ImageFsInfo,
    ImageSpec,
    LinuxContainerResources,
    MetricDescriptor,
    PodSandbox,
    PodSandboxConfig,
    PodSandboxFilter,
    PodSandboxMetadata,
    PodSandboxMetrics,
    PodSandboxNetworkStatus,
    PodSandboxStats,
    PodSandboxStatsFilter,
    PodSandboxStatus,
    PortForwardRequest,
    PortMapping,
    RuntimeCondition,
    RuntimeFeatures,
    RuntimeHandler,
    SandboxCreated,
    VersionInfo,
)
from kubert.model.enums import CgroupDriver
from kubert.streaming.contract import ProcessStream

__all__ = [
    "Backend",
    "BackendContext",
    "CheckpointStore",
    "ImageBackend",
    "NetworkBackend",
    "PodNetwork",
    "PullProgress",
    "RuntimeBackend",
]


@frozen(kw_only=True)
class BackendContext:
    """What the host hands a backend's constructor.

    :ivar root_dir: kubert's state directory; a backend keeps its files under
        ``root_dir / <backend name>`` and nowhere else unless configured.
    :ivar options: this backend's own settings (its config-file section and CLI flags).
    :ivar pod_infra_container_image: the sandbox (pause) image reference.
    """

    root_dir: Path
    options: Mapping[str, Any] = field(factory=dict)
    pod_infra_container_image: str = "registry.k8s.io/pause:3.9"

    def option(self, key: str, default: Any = None) -> Any:
        """One option by key, or ``default`` when it is unset or None."""
        value = self.options.get(key)
        return default if value is None else value


@frozen(kw_only=True)
class PullProgress:
    """One progress report of an image pull: a layer's status and bytes so far."""

    image: str
    layer: str = ""
    status: str = ""
    current: int = 0
    total: int = 0


@frozen(kw_only=True)
class PodNetwork:
    """What a network backend needs to attach or detach one sandbox.

    Built by the core from the sandbox config and what the runtime reported at create time,
    or from the checkpoint when the engine has forgotten the sandbox.
    """

    sandbox_id: str
    metadata: PodSandboxMetadata
    netns_path: str
    port_mappings: tuple[PortMapping, ...] = ()
    annotations: Mapping[str, str] = field(factory=dict)
    labels: Mapping[str, str] = field(factory=dict)
    cgroup_parent: str = ""
    host_network: bool = False
    #: The pod's DNS settings, for plugins declaring the ``dns`` capability (ADD only).
    dns_config: DNSConfig | None = None


class Backend(ABC):  # noqa: B024  (the kinds below declare the abstract methods)
    """Common base: a named, configured, closable backend instance."""

    #: The name it was registered under; set by the host before construction.
    name: ClassVar[str] = ""

    def __init__(self, context: BackendContext) -> None:
        self.context = context

    def close(self) -> None:  # noqa: B027  (optional hook with a no-op default)
        """Release clients, threads and files. Called once when the server stops."""

    def unimplemented(self, operation: str) -> UnimplementedError:
        return UnimplementedError(operation, self.name or type(self).__name__)


class RuntimeBackend(Backend):
    """Runs sandboxes and containers. Names and semantics follow CRI v1's RuntimeService."""

    # ---- runtime-wide ------------------------------------------------------------------

    @abstractmethod
    def version(self) -> VersionInfo:
        """REQUIRED. The engine's name and version (runtime_name is overwritten by the core)."""

    @abstractmethod
    def status(self) -> RuntimeCondition:
        """REQUIRED. The RuntimeReady condition; reason and message say why when false."""

    def runtime_handlers(self) -> Sequence[RuntimeHandler]:
        """Runtime handlers this backend offers (StatusResponse.runtime_handlers)."""
        return (RuntimeHandler(name=""),)

    def runtime_features(self) -> RuntimeFeatures:
        """Runtime-wide features (StatusResponse.features); advertise only what works, since
        the kubelet admits pods that need a feature on that word alone."""
        return RuntimeFeatures()

    def cgroup_driver(self) -> CgroupDriver:
        """The cgroup driver (RuntimeConfig RPC)."""
        raise self.unimplemented("RuntimeConfig")

    def update_runtime_config(self, pod_cidr: str) -> None:
        """UpdateRuntimeConfig: the node's pod CIDR. Optional; the default ignores it."""

    def runtime_info(self) -> dict[str, str]:
        """Verbose StatusResponse.info (``crictl info``): the engine and this backend's settings.

        Best effort, asked only when the request is verbose; the default has nothing to add.
        :returns: key -> a JSON document; the core adds its own ``kubert`` key beside these.
        """
        return {}

    # ---- sandboxes ---------------------------------------------------------------------

    @abstractmethod
    def create_sandbox(self, config: PodSandboxConfig, runtime_handler: str) -> SandboxCreated:
        """REQUIRED. Create (not start) the sandbox.

        :returns: its ID and the netns path the network backend will use ("" for host network).
        :raises AlreadyExistsError: a live sandbox has the same metadata.
        """

    @abstractmethod
    def start_sandbox(self, sandbox_id: str) -> None:
        """REQUIRED. Start a created sandbox. :raises NotFoundError:."""

    def begin_stop_sandbox(self, sandbox_id: str) -> None:
        """OPTIONAL. StopPodSandbox is about to tear down the pod's network and then call
        :meth:`stop_sandbox`: a backend may start stopping the sandbox's containers now, so
        that their stops overlap the teardown (containerd too stops the containers first).
        The sandbox's netns must stay up: only :meth:`stop_sandbox` stops what holds it.
        Nothing is expected back; :meth:`stop_sandbox` follows, even when the teardown
        fails. The default does nothing.
        """

    @abstractmethod
    def stop_sandbox(self, sandbox_id: str) -> None:
        """REQUIRED. Stop the sandbox and every container in it; stopping a stopped one is fine.

        :raises NotFoundError: the sandbox is unknown (the core turns this into success).
        """

    @abstractmethod
    def remove_sandbox(self, sandbox_id: str) -> None:
        """REQUIRED. Remove the sandbox and its containers, running or not.

        :raises NotFoundError: the sandbox is unknown (the core turns this into success).
        """

    @abstractmethod
    def sandbox_status(self, sandbox_id: str) -> PodSandboxStatus:
        """REQUIRED. Status without network (the core adds the IPs). :raises NotFoundError:."""

    @abstractmethod
    def list_sandboxes(self, filter: PodSandboxFilter | None) -> list[PodSandbox]:
        """REQUIRED. Sandboxes matching ``filter`` (all when None).

        The entries are read-only, their maps included: no caller changes one, so a backend
        may keep its entries and hand out the same object on every list while its sandbox is
        unchanged (then a relist copies nothing and the CRI server, which caches each entry's
        serialized form, knows it unchanged by identity). A backend never changes an entry
        it handed out: a change is a new entry. Read-only maps (``types.MappingProxyType``)
        make a mistake fail loudly. The list itself is the caller's.
        """

    def sandbox_netns_path(self, sandbox_id: str) -> str:
        """The netns path of a live sandbox, "" when it has none (stopped, host network)."""
        return ""

    def sandbox_info(self, sandbox_id: str) -> dict[str, str]:
        """Verbose PodSandboxStatusResponse.info (``crictl inspectp``), as containerd fills it.

        Best effort, asked only when the request is verbose; the default has nothing to add.
        :returns: key -> a JSON document, by convention one key ``info`` holding an object with
            the pid of the sandbox's process, its netns path and the config it runs with.
        :raises NotFoundError: no such sandbox (the core then answers without info).
        """
        return {}

    # ---- containers --------------------------------------------------------------------

    @abstractmethod
    def create_container(
        self, sandbox_id: str, config: ContainerConfig, sandbox_config: PodSandboxConfig
    ) -> str:
        """REQUIRED. Create a container in a ready sandbox.

        :returns: the new container's ID.
        :raises NotFoundError: no such sandbox. :raises AlreadyExistsError: same name and attempt.
        """

    @abstractmethod
    def start_container(self, container_id: str) -> None:
        """REQUIRED. :raises NotFoundError:, FailedPreconditionError when not CREATED."""

    @abstractmethod
    def stop_container(self, container_id: str, timeout: int) -> None:
        """REQUIRED. SIGTERM, then SIGKILL after ``timeout`` seconds; stopped already is fine."""

    @abstractmethod
    def remove_container(self, container_id: str) -> None:
        """REQUIRED. Remove (force-stopping a running one). :raises NotFoundError: unknown."""

    @abstractmethod
    def container_status(self, container_id: str) -> ContainerStatus:
        """REQUIRED. :raises NotFoundError:."""

    @abstractmethod
    def list_containers(self, filter: ContainerFilter | None) -> list[Container]:
        """REQUIRED. Containers matching ``filter`` (all when None).

        Read-only entries, which may be shared, as :meth:`list_sandboxes` says.
        """

    def container_info(self, container_id: str) -> dict[str, str]:
        """Verbose ContainerStatusResponse.info (``crictl inspect``), as containerd fills it.

        Best effort, asked only when the request is verbose; the default has nothing to add.
        :returns: key -> a JSON document, by convention one key ``info`` holding an object with
            the container's pid, sandbox ID and the process config it runs with.
        :raises NotFoundError: no such container (the core then answers without info).
        """
        return {}

    # ---- optional operations -----------------------------------------------------------

    def update_container_resources(
        self, container_id: str, resources: LinuxContainerResources
    ) -> None:
        raise self.unimplemented("UpdateContainerResources")

    def reopen_container_log(self, container_id: str) -> None:
        raise self.unimplemented("ReopenContainerLog")

    def exec_sync(self, container_id: str, cmd: Sequence[str], timeout: int) -> ExecSyncResult:
        """Run ``cmd`` in the container and collect its output.

        :raises DeadlineExceededError: still running after ``timeout`` seconds (0 = no limit).
        """
        raise self.unimplemented("ExecSync")

    def exec_stream(self, request: ExecRequest) -> ProcessStream:
        """Start ``request.cmd`` in the container for a client of the streaming server.

        Called when the client connects to the Exec URL, not at the Exec RPC.
        :returns: the new process's stdio; only the streams the request asks for are used.
        :raises NotFoundError: no such container. :raises FailedPreconditionError: not running.
        """
        raise self.unimplemented("Exec")

    def attach_stream(self, request: AttachRequest) -> ProcessStream:
        """Attach to the container's main process (stdin only if it was created with stdin).

        :returns: its stdio from now on; :meth:`ProcessStream.wait` may return None.
        :raises NotFoundError: no such container. :raises FailedPreconditionError: not running.
        """
        raise self.unimplemented("Attach")

    def port_forward_stream(self, request: PortForwardRequest, port: int) -> socket.socket:
        """Connect to TCP ``port`` on the loopback of the sandbox's network namespace.

        Called once per forwarded connection; ``port`` is one the client asked for.
        :returns: a connected, blocking socket the server owns and closes.
        :raises NotFoundError: no such sandbox. :raises OSError: the connection failed.
        """
        raise self.unimplemented("PortForward")

    def container_stats(self, container_id: str) -> ContainerStats:
        raise self.unimplemented("ContainerStats")

    def list_container_stats(self, filter: ContainerStatsFilter | None) -> list[ContainerStats]:
        raise self.unimplemented("ListContainerStats")

    def pod_sandbox_stats(self, sandbox_id: str) -> PodSandboxStats:
        raise self.unimplemented("PodSandboxStats")

    def list_pod_sandbox_stats(
        self, filter: PodSandboxStatsFilter | None
    ) -> list[PodSandboxStats]:
        raise self.unimplemented("ListPodSandboxStats")

    def checkpoint_container(self, container_id: str, location: str, timeout: int) -> None:
        raise self.unimplemented("CheckpointContainer")

    def container_events(self) -> Iterator[ContainerEvent]:
        """Container lifecycle events as they happen, until the backend closes."""
        raise self.unimplemented("GetContainerEvents")

    def update_pod_sandbox_resources(
        self, sandbox_id: str, resources: LinuxContainerResources
    ) -> None:
        raise self.unimplemented("UpdatePodSandboxResources")

    def list_metric_descriptors(self) -> list[MetricDescriptor]:
        """ListMetricDescriptors: every series :meth:`list_pod_sandbox_metrics` may report.

        Use cAdvisor's names and meanings where one exists, so that dashboards keep working.
        """
        raise self.unimplemented("ListMetricDescriptors")

    def list_pod_sandbox_metrics(self) -> list[PodSandboxMetrics]:
        """ListPodSandboxMetrics: current samples of every ready sandbox and its containers.

        Every :class:`~kubert.model.Metric` names a descriptor of
        :meth:`list_metric_descriptors` and has one label value per label key, in order.
        """
        raise self.unimplemented("ListPodSandboxMetrics")


class ImageBackend(Backend):
    """Stores and pulls images. Semantics follow CRI v1's ImageService."""

    @abstractmethod
    def list_images(self, filter: ImageFilter | None) -> list[Image]:
        """REQUIRED. Images, optionally only those matching ``filter.image``."""

    @abstractmethod
    def image_status(self, image: ImageSpec) -> Image | None:
        """REQUIRED. The image named by tag, digest or ID, or None when absent."""

    @abstractmethod
    def pull_image(
        self,
        image: ImageSpec,
        auth: AuthConfig | None,
        sandbox_config: PodSandboxConfig | None,
        progress: Callable[[PullProgress], None] | None = None,
    ) -> str:
        """REQUIRED. Pull ``image``; ``progress`` is called as layers move.

        :returns: the image reference (digest or ID) now present.
        :raises NotFoundError: no such image. :raises UnavailableError: registry unreachable.
        """

    @abstractmethod
    def remove_image(self, image: ImageSpec) -> None:
        """REQUIRED. Remove by ID, tag or digest; absent is fine.

        :raises FailedPreconditionError: a container uses it.
        """

    def image_fs_info(self) -> ImageFsInfo:
        raise self.unimplemented("ImageFsInfo")

    def image_info(self, image: ImageSpec) -> dict[str, str]:
        """Verbose ImageStatusResponse.info (``crictl inspecti``), as containerd fills it.

        Best effort, asked only when the request is verbose and the image is present.
        :returns: key -> a JSON document, by convention one key ``info`` holding an object with
            the image config (entrypoint, cmd, env, user, labels …); the default adds nothing.
        """
        return {}


class NetworkBackend(Backend):
    """Gives sandboxes their network. The core calls it after start and before stop."""

    @abstractmethod
    def status(self) -> RuntimeCondition:
        """REQUIRED. The NetworkReady condition; reason and message say why when false."""

    @abstractmethod
    def setup_pod(self, pod: PodNetwork) -> PodSandboxNetworkStatus:
        """REQUIRED. Attach the sandbox's netns. :returns: its IPs. Undo partial work on failure."""

    @abstractmethod
    def teardown_pod(self, pod: PodNetwork) -> None:
        """REQUIRED. Detach; idempotent, and must succeed when the netns is already gone."""

    def pod_network_status(self, pod: PodNetwork) -> PodSandboxNetworkStatus | None:
        """The IPs of an attached sandbox, None when unknown (the checkpoint then answers)."""
        return None

    def garbage_collect(self, live_sandbox_ids: set[str]) -> None:
        """Release attachments of sandboxes not in ``live_sandbox_ids`` (called at start-up)."""

    def update_pod_cidr(self, pod_cidr: str) -> None:
        """The node's pod CIDR from UpdateRuntimeConfig."""


class CheckpointStore(Backend):
    """Durable per-sandbox records, written before a sandbox starts and deleted after removal."""

    @abstractmethod
    def write(self, checkpoint: Checkpoint) -> None:
        """REQUIRED. Atomically create or replace the checkpoint of ``checkpoint.sandbox_id``."""

    @abstractmethod
    def read(self, sandbox_id: str) -> Checkpoint:
        """REQUIRED. :raises NotFoundError: absent, or corrupt (then moved aside and reported)."""

    @abstractmethod
    def delete(self, sandbox_id: str) -> None:
        """REQUIRED. Remove it; absent is fine."""

    @abstractmethod
    def list(self) -> list[str]:
        """REQUIRED. IDs of every readable checkpoint."""
