"""Pod sandbox models: config in, status and list entries out, filters."""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs
from attrs import field, frozen

from kubert.errors import InvalidArgumentError
from kubert.model import validate
from kubert.model.common import (
    DNSConfig,
    LinuxContainerResources,
    NamespaceOption,
    PortMapping,
    SecurityProfile,
    SELinuxOption,
    labels_field,
    tuple_field,
)
from kubert.model.enums import NamespaceMode, PodSandboxState

_SYSCTL_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,252}$")
_IPC_SYSCTL_PREFIXES = ("kernel.shm", "kernel.msg", "fs.mqueue.")


@frozen(kw_only=True)
class PodSandboxMetadata:
    """Identity of a sandbox: (name, namespace, uid, attempt) is unique among live sandboxes."""

    name: str = field(validator=validate.name)
    uid: str = field(validator=validate.uid)
    namespace: str = field(validator=validate.name)
    attempt: int = field(default=0, validator=validate.attempt)


@frozen(kw_only=True)
class LinuxSandboxSecurityContext:
    namespace_options: NamespaceOption = field(factory=NamespaceOption)
    selinux_options: SELinuxOption | None = None
    run_as_user: int | None = None
    run_as_group: int | None = None
    readonly_rootfs: bool = False
    supplemental_groups: tuple[int, ...] = tuple_field()
    privileged: bool = False
    seccomp: SecurityProfile | None = None
    apparmor: SecurityProfile | None = None


@frozen(kw_only=True)
class LinuxPodSandboxConfig:
    cgroup_parent: str = field(default="", validator=validate.bounded_string(4096))
    security_context: LinuxSandboxSecurityContext = field(factory=LinuxSandboxSecurityContext)
    sysctls: dict[str, str] = field(factory=dict, converter=dict)
    overhead: LinuxContainerResources | None = None
    resources: LinuxContainerResources | None = None

    @sysctls.validator
    def _check_sysctls(
        self, attribute: attrs.Attribute[dict[str, str]], value: dict[str, str]
    ) -> None:
        namespaces = self.security_context.namespace_options
        for key, setting in value.items():
            field_name = f"linux.sysctls[{key!r}]"
            if not _SYSCTL_RE.match(key) or ".." in key:
                raise InvalidArgumentError(
                    field_name, key, "must be a sysctl name such as net.ipv4.ip_forward"
                )
            if "\x00" in setting or len(setting) > 4096:
                raise InvalidArgumentError(field_name, setting[:40], "value is not a sysctl value")
            # Only namespaced sysctls can be set per pod (the kubelet's rule); anything else
            # would change the node, and runc refuses it ("not in a separate kernel namespace").
            dotted = key.replace("/", ".")
            if dotted.startswith("net."):
                if namespaces.network == NamespaceMode.NODE:
                    raise InvalidArgumentError(
                        field_name, key, "net.* sysctls cannot be set in a host-network pod"
                    )
            elif dotted == "kernel.sem" or dotted.startswith(_IPC_SYSCTL_PREFIXES):
                if namespaces.ipc == NamespaceMode.NODE:
                    raise InvalidArgumentError(
                        field_name, key, "IPC sysctls cannot be set in a host-IPC pod"
                    )
            else:
                raise InvalidArgumentError(
                    field_name, key,
                    "is not a namespaced sysctl; a pod may set only net.*, kernel.shm*, "
                    "kernel.msg*, kernel.sem and fs.mqueue.*",
                )


@frozen(kw_only=True)
class PodSandboxConfig:
    """What RunPodSandbox receives: everything needed to make the pod's shared environment."""

    metadata: PodSandboxMetadata
    hostname: str = field(default="", validator=validate.bounded_string(253))
    log_directory: str = field(default="", validator=validate.optional_absolute_path)
    dns_config: DNSConfig | None = None
    port_mappings: tuple[PortMapping, ...] = tuple_field()
    labels: dict[str, str] = labels_field()
    annotations: dict[str, str] = labels_field()
    linux: LinuxPodSandboxConfig = field(factory=LinuxPodSandboxConfig)

    @property
    def namespace_options(self) -> NamespaceOption:
        return self.linux.security_context.namespace_options


@frozen(kw_only=True)
class PodIP:
    ip: str


@frozen(kw_only=True)
class PodSandboxNetworkStatus:
    ip: str = ""
    additional_ips: tuple[PodIP, ...] = tuple_field()


@frozen(kw_only=True)
class Namespace:
    options: NamespaceOption = field(factory=NamespaceOption)


@frozen(kw_only=True)
class LinuxPodSandboxStatus:
    namespaces: Namespace = field(factory=Namespace)


@frozen(kw_only=True)
class PodSandboxStatus:
    """What PodSandboxStatus answers; the core fills ``network`` from the network backend."""

    id: str
    metadata: PodSandboxMetadata
    state: PodSandboxState = field(converter=PodSandboxState)
    created_at: int
    network: PodSandboxNetworkStatus | None = None
    linux: LinuxPodSandboxStatus = field(factory=LinuxPodSandboxStatus)
    labels: dict[str, str] = field(factory=dict)
    annotations: dict[str, str] = field(factory=dict)
    runtime_handler: str = ""


@frozen(kw_only=True)
class PodSandbox:
    """One entry of ListPodSandbox.

    Read-only, maps included: a backend may hand out the same entry on every list while its
    sandbox is unchanged (see :meth:`kubert.backends.RuntimeBackend.list_sandboxes`), so no
    caller changes one; the maps are typed :class:`~collections.abc.Mapping` for that.
    """

    id: str
    metadata: PodSandboxMetadata
    state: PodSandboxState = field(converter=PodSandboxState)
    created_at: int
    labels: Mapping[str, str] = field(factory=dict)
    annotations: Mapping[str, str] = field(factory=dict)
    runtime_handler: str = ""


@frozen(kw_only=True)
class PodSandboxFilter:
    """ListPodSandbox filter; every set field must match (an ID matches by prefix)."""

    id: str = field(default="", validator=validate.optional_id)
    state: PodSandboxState | None = None
    label_selector: dict[str, str] = field(factory=dict)

    def matches(self, sandbox: PodSandbox) -> bool:
        if self.id and not sandbox.id.startswith(self.id):
            return False
        if self.state is not None and sandbox.state != self.state:
            return False
        return all(sandbox.labels.get(k) == val for k, val in self.label_selector.items())


@frozen(kw_only=True)
class SandboxCreated:
    """What a runtime backend answers from create_sandbox."""

    id: str
    netns_path: str = ""


__all__ = [
    "DNSConfig",
    "LinuxPodSandboxConfig",
    "LinuxPodSandboxStatus",
    "LinuxSandboxSecurityContext",
    "Namespace",
    "PodIP",
    "PodSandbox",
    "PodSandboxConfig",
    "PodSandboxFilter",
    "PodSandboxMetadata",
    "PodSandboxNetworkStatus",
    "PodSandboxStatus",
    "SandboxCreated",
]
