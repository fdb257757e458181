"""Pod sandbox stats models (PodSandboxStats, ListPodSandboxStats)."""

from __future__ import annotations

from collections.abc import Mapping

from attrs import field, frozen

from kubert.model import validate
from kubert.model.common import tuple_field
from kubert.model.container import ContainerStats, CpuUsage, MemoryUsage
from kubert.model.sandbox import PodSandboxMetadata


@frozen(kw_only=True)
class PodSandboxAttributes:
    id: str
    metadata: PodSandboxMetadata
    labels: dict[str, str] = field(factory=dict)
    annotations: dict[str, str] = field(factory=dict)


@frozen(kw_only=True)
class NetworkInterfaceUsage:
    name: str = ""
    rx_bytes: int | None = None
    rx_errors: int | None = None
    tx_bytes: int | None = None
    tx_errors: int | None = None


@frozen(kw_only=True)
class NetworkUsage:
    timestamp: int = 0
    default_interface: NetworkInterfaceUsage | None = None
    interfaces: tuple[NetworkInterfaceUsage, ...] = tuple_field()


@frozen(kw_only=True)
class ProcessUsage:
    timestamp: int = 0
    process_count: int | None = None


@frozen(kw_only=True)
class LinuxPodSandboxStats:
    cpu: CpuUsage | None = None
    memory: MemoryUsage | None = None
    network: NetworkUsage | None = None
    process: ProcessUsage | None = None
    containers: tuple[ContainerStats, ...] = tuple_field()


@frozen(kw_only=True)
class PodSandboxStats:
    attributes: PodSandboxAttributes
    linux: LinuxPodSandboxStats | None = None


@frozen(kw_only=True)
class PodSandboxStatsFilter:
    """ListPodSandboxStats filter; every set field must match (the ID matches by prefix)."""

    id: str = field(default="", validator=validate.optional_id)
    label_selector: dict[str, str] = field(factory=dict)

    def matches(self, sandbox_id: str, labels: Mapping[str, str]) -> bool:
        return sandbox_id.startswith(self.id) and all(
            labels.get(k) == val for k, val in self.label_selector.items()
        )
