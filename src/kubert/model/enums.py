"""CRI v1 enumerations, with the same numbers as the protobuf so conversion is exact."""

from __future__ import annotations

from enum import IntEnum


class Protocol(IntEnum):
    TCP = 0
    UDP = 1
    SCTP = 2


class MountPropagation(IntEnum):
    PROPAGATION_PRIVATE = 0
    PROPAGATION_HOST_TO_CONTAINER = 1
    PROPAGATION_BIDIRECTIONAL = 2


class NamespaceMode(IntEnum):
    POD = 0
    CONTAINER = 1
    NODE = 2
    TARGET = 3


class PodSandboxState(IntEnum):
    SANDBOX_READY = 0
    SANDBOX_NOTREADY = 1


class ContainerState(IntEnum):
    CONTAINER_CREATED = 0
    CONTAINER_RUNNING = 1
    CONTAINER_EXITED = 2
    CONTAINER_UNKNOWN = 3


class ContainerEventType(IntEnum):
    CONTAINER_CREATED_EVENT = 0
    CONTAINER_STARTED_EVENT = 1
    CONTAINER_STOPPED_EVENT = 2
    CONTAINER_DELETED_EVENT = 3


class ProfileType(IntEnum):
    """SecurityProfile.ProfileType: which seccomp / apparmor profile applies."""

    RuntimeDefault = 0
    Unconfined = 1
    Localhost = 2


class SupplementalGroupsPolicy(IntEnum):
    """How a container's supplementary groups are chosen: ``Merge`` adds the groups the image's
    /etc/group gives the user to the requested ones, ``Strict`` uses only the requested ones."""

    Merge = 0
    Strict = 1


class CgroupDriver(IntEnum):
    SYSTEMD = 0
    CGROUPFS = 1


class MetricType(IntEnum):
    COUNTER = 0
    GAUGE = 1
