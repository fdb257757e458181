"""Models shared by sandboxes and containers: key/values, ports, mounts, resources, security."""

from __future__ import annotations

from typing import Any

import attrs
from attrs import field, frozen

from kubert.errors import InvalidArgumentError
from kubert.model import validate
from kubert.model.enums import MountPropagation, NamespaceMode, ProfileType, Protocol


def _tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value)


def _dict(value: Any) -> dict[str, str]:
    return dict(value)


def labels_field() -> Any:
    """A label or annotation map: qualified-name keys, size-capped."""
    return field(factory=dict, converter=_dict, validator=validate.string_map)


def strings_field() -> Any:
    return field(factory=tuple, converter=_tuple, validator=validate.string_list)


def tuple_field() -> Any:
    return field(factory=tuple, converter=_tuple)


@frozen(kw_only=True)
class KeyValue:
    """One environment variable; ``key`` is the variable name."""

    key: str = field(validator=validate.bounded_string(4096))
    value: str = field(default="", validator=validate.bounded_string())

    @key.validator
    def _check_key(self, attribute: attrs.Attribute[str], value: str) -> None:
        if not value or "=" in value:
            raise InvalidArgumentError(
                "envs.key", value, "must be a non-empty variable name without '='"
            )


@frozen(kw_only=True)
class PortMapping:
    """A port the network plugin maps from the host (hostPort) into the pod."""

    protocol: Protocol = field(default=Protocol.TCP, converter=Protocol)
    container_port: int = field(default=0, validator=validate.port(allow_zero=True))
    host_port: int = field(default=0, validator=validate.port(allow_zero=True))
    host_ip: str = field(default="", validator=validate.bounded_string(64))


@frozen(kw_only=True)
class DNSConfig:
    """What goes into the sandbox's resolv.conf."""

    servers: tuple[str, ...] = strings_field()
    searches: tuple[str, ...] = strings_field()
    options: tuple[str, ...] = strings_field()


@frozen(kw_only=True)
class Mount:
    """A host path (or image) mounted into a container."""

    container_path: str = field(validator=validate.absolute_path)
    host_path: str = field(default="", validator=validate.optional_absolute_path)
    readonly: bool = False
    selinux_relabel: bool = False
    propagation: MountPropagation = field(
        default=MountPropagation.PROPAGATION_PRIVATE, converter=MountPropagation
    )
    recursive_read_only: bool = False


@frozen(kw_only=True)
class Device:
    """A host device node made visible in a container."""

    container_path: str = field(validator=validate.absolute_path)
    host_path: str = field(validator=validate.absolute_path)
    permissions: str = field(default="rwm")

    @permissions.validator
    def _check_permissions(self, attribute: attrs.Attribute[str], value: str) -> None:
        if not set(value) <= set("rwm"):
            raise InvalidArgumentError(
                "devices.permissions", value, "must be made of the letters r, w and m"
            )


@frozen(kw_only=True)
class NamespaceOption:
    """Which namespaces a sandbox or container shares: POD, CONTAINER, NODE or TARGET."""

    network: NamespaceMode = field(default=NamespaceMode.POD, converter=NamespaceMode)
    pid: NamespaceMode = field(default=NamespaceMode.POD, converter=NamespaceMode)
    ipc: NamespaceMode = field(default=NamespaceMode.POD, converter=NamespaceMode)
    target_id: str = field(default="", validator=validate.optional_id)


@frozen(kw_only=True)
class SecurityProfile:
    """A seccomp or AppArmor profile: runtime default, unconfined, or a localhost file."""

    profile_type: ProfileType = field(default=ProfileType.RuntimeDefault, converter=ProfileType)
    localhost_ref: str = field(default="", validator=validate.bounded_string(4096))


@frozen(kw_only=True)
class HugepageLimit:
    page_size: str = ""
    limit: int = field(default=0, validator=validate.non_negative)


@frozen(kw_only=True)
class LinuxContainerResources:
    """cgroup settings of a container or pod; zero means unset, as in the CRI."""

    cpu_period: int = field(default=0, validator=validate.non_negative)
    cpu_quota: int = 0
    # The kernel's (and the kubelet's) bounds; runc refuses anything else only at update time.
    cpu_shares: int = field(default=0, validator=validate.zero_or_range(2, 262144))
    memory_limit_in_bytes: int = field(default=0, validator=validate.non_negative)
    oom_score_adj: int = field(default=0, validator=validate.int_range(-1000, 1000))
    cpuset_cpus: str = field(default="", validator=validate.bounded_string(1024))
    cpuset_mems: str = field(default="", validator=validate.bounded_string(1024))
    hugepage_limits: tuple[HugepageLimit, ...] = tuple_field()
    unified: dict[str, str] = field(factory=dict, converter=_dict)
    memory_swap_limit_in_bytes: int = 0


@frozen(kw_only=True)
class Capability:
    add_capabilities: tuple[str, ...] = strings_field()
    drop_capabilities: tuple[str, ...] = strings_field()
    add_ambient_capabilities: tuple[str, ...] = strings_field()


@frozen(kw_only=True)
class SELinuxOption:
    user: str = ""
    role: str = ""
    type: str = ""
    level: str = ""


@frozen(kw_only=True)
class FilesystemIdentifier:
    mountpoint: str = ""


@frozen(kw_only=True)
class FilesystemUsage:
    timestamp: int = 0
    fs_id: FilesystemIdentifier | None = None
    used_bytes: int | None = None
    inodes_used: int | None = None
