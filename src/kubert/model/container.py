"""Container models: config in, status, list entries, stats and events out, filters."""

from __future__ import annotations

from collections.abc import Mapping

from attrs import field, frozen

from kubert.model import validate
from kubert.model.common import (
    Capability,
    Device,
    FilesystemUsage,
    KeyValue,
    LinuxContainerResources,
    Mount,
    NamespaceOption,
    SecurityProfile,
    SELinuxOption,
    labels_field,
    strings_field,
    tuple_field,
)
from kubert.model.enums import ContainerEventType, ContainerState, SupplementalGroupsPolicy
from kubert.model.image import ImageSpec
from kubert.model.sandbox import PodSandboxStatus


@frozen(kw_only=True)
class ContainerMetadata:
    """Identity of a container within its sandbox: (name, attempt) is unique there."""

    name: str = field(validator=validate.name)
    attempt: int = field(default=0, validator=validate.attempt)


@frozen(kw_only=True)
class LinuxContainerSecurityContext:
    capabilities: Capability | None = None
    privileged: bool = False
    namespace_options: NamespaceOption = field(factory=NamespaceOption)
    selinux_options: SELinuxOption | None = None
    run_as_user: int | None = None
    run_as_group: int | None = field(default=None, validator=validate.run_as_group)
    run_as_username: str = field(default="", validator=validate.bounded_string(256))
    readonly_rootfs: bool = False
    supplemental_groups: tuple[int, ...] = tuple_field()
    supplemental_groups_policy: SupplementalGroupsPolicy = field(
        default=SupplementalGroupsPolicy.Merge, converter=SupplementalGroupsPolicy
    )
    no_new_privs: bool = False
    masked_paths: tuple[str, ...] = strings_field()
    readonly_paths: tuple[str, ...] = strings_field()
    seccomp: SecurityProfile | None = None
    apparmor: SecurityProfile | None = None


@frozen(kw_only=True)
class LinuxContainerConfig:
    resources: LinuxContainerResources | None = None
    security_context: LinuxContainerSecurityContext = field(
        factory=LinuxContainerSecurityContext
    )


@frozen(kw_only=True)
class ContainerConfig:
    """What CreateContainer receives. ``command`` is the entrypoint, ``args`` its arguments."""

    metadata: ContainerMetadata
    image: ImageSpec
    command: tuple[str, ...] = strings_field()
    args: tuple[str, ...] = strings_field()
    working_dir: str = field(default="", validator=validate.optional_absolute_path)
    envs: tuple[KeyValue, ...] = tuple_field()
    mounts: tuple[Mount, ...] = tuple_field()
    devices: tuple[Device, ...] = tuple_field()
    labels: dict[str, str] = labels_field()
    annotations: dict[str, str] = labels_field()
    log_path: str = field(default="", validator=validate.relative_path)
    stdin: bool = False
    stdin_once: bool = False
    tty: bool = False
    linux: LinuxContainerConfig = field(factory=LinuxContainerConfig)


@frozen(kw_only=True)
class Container:
    """One entry of ListContainers.

    Read-only, maps included (those of ``image`` too): a backend may hand out the same entry
    on every list while its container is unchanged (see
    :meth:`kubert.backends.RuntimeBackend.list_containers`), so no caller changes one.
    """

    id: str
    pod_sandbox_id: str
    metadata: ContainerMetadata
    image: ImageSpec
    image_ref: str
    state: ContainerState = field(converter=ContainerState)
    created_at: int
    labels: Mapping[str, str] = field(factory=dict)
    annotations: Mapping[str, str] = field(factory=dict)
    image_id: str = ""


@frozen(kw_only=True)
class ContainerResources:
    linux: LinuxContainerResources | None = None


@frozen(kw_only=True)
class LinuxContainerUser:
    """The identity of a container's first process: effective uid, gid and supplementary
    groups, as the kernel applied them."""

    uid: int = 0
    gid: int = 0
    supplemental_groups: tuple[int, ...] = tuple_field()


@frozen(kw_only=True)
class ContainerUser:
    linux: LinuxContainerUser | None = None


@frozen(kw_only=True)
class ContainerStatus:
    """What ContainerStatus answers. Times are Unix nanoseconds; 0 means not yet."""

    id: str
    metadata: ContainerMetadata
    state: ContainerState = field(converter=ContainerState)
    created_at: int
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    image: ImageSpec
    image_ref: str = ""
    reason: str = ""
    message: str = ""
    labels: dict[str, str] = field(factory=dict)
    annotations: dict[str, str] = field(factory=dict)
    mounts: tuple[Mount, ...] = tuple_field()
    log_path: str = ""
    resources: ContainerResources | None = None
    image_id: str = ""
    #: The running process's identity (None when the backend cannot tell, or nothing runs).
    user: ContainerUser | None = None


@frozen(kw_only=True)
class ContainerFilter:
    """ListContainers filter; every set field must match (IDs match by prefix)."""

    id: str = field(default="", validator=validate.optional_id)
    state: ContainerState | None = None
    pod_sandbox_id: str = field(default="", validator=validate.optional_id)
    label_selector: dict[str, str] = field(factory=dict)

    def matches(self, container: Container) -> bool:
        if self.id and not container.id.startswith(self.id):
            return False
        if self.pod_sandbox_id and not container.pod_sandbox_id.startswith(self.pod_sandbox_id):
            return False
        if self.state is not None and container.state != self.state:
            return False
        return all(container.labels.get(k) == val for k, val in self.label_selector.items())


@frozen(kw_only=True)
class ExecSyncResult:
    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int = 0


@frozen(kw_only=True)
class CpuUsage:
    timestamp: int = 0
    usage_core_nano_seconds: int | None = None
    usage_nano_cores: int | None = None


@frozen(kw_only=True)
class MemoryUsage:
    timestamp: int = 0
    working_set_bytes: int | None = None
    available_bytes: int | None = None
    usage_bytes: int | None = None
    rss_bytes: int | None = None
    page_faults: int | None = None
    major_page_faults: int | None = None


@frozen(kw_only=True)
class ContainerAttributes:
    id: str
    metadata: ContainerMetadata
    labels: dict[str, str] = field(factory=dict)
    annotations: dict[str, str] = field(factory=dict)


@frozen(kw_only=True)
class ContainerStats:
    attributes: ContainerAttributes
    cpu: CpuUsage | None = None
    memory: MemoryUsage | None = None
    writable_layer: FilesystemUsage | None = None


@frozen(kw_only=True)
class ContainerStatsFilter:
    """ListContainerStats filter; every set field must match (IDs match by prefix)."""

    id: str = field(default="", validator=validate.optional_id)
    pod_sandbox_id: str = field(default="", validator=validate.optional_id)
    label_selector: dict[str, str] = field(factory=dict)

    def matches(self, container_id: str, sandbox_id: str, labels: Mapping[str, str]) -> bool:
        return (
            container_id.startswith(self.id)
            and sandbox_id.startswith(self.pod_sandbox_id)
            and all(labels.get(k) == val for k, val in self.label_selector.items())
        )


@frozen(kw_only=True)
class ContainerEvent:
    """One GetContainerEvents message."""

    container_id: str
    container_event_type: ContainerEventType = field(converter=ContainerEventType)
    created_at: int
    pod_sandbox_status: PodSandboxStatus | None = None
    containers_statuses: tuple[ContainerStatus, ...] = tuple_field()
