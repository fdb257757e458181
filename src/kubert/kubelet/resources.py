"""A container's requests / limits as CRI Linux resources, the kubelet's way."""

from __future__ import annotations

from kubert.kubelet.pod import Container
from kubert.kubelet.quantity import parse_cpu, parse_memory
from kubert.model import HugepageLimit, LinuxContainerResources

HUGEPAGES = "hugepages-"

CPU_PERIOD = 100_000
MIN_SHARES = 2
SHARES_PER_CPU = 1024


def container_resources(container: Container) -> LinuxContainerResources:
    """cpu shares from the request (or limit), quota from the limit, memory limit in bytes."""
    requests = container.resources.requests
    limits = container.resources.limits
    cpu_request = requests.get("cpu") or limits.get("cpu")
    shares = MIN_SHARES
    if cpu_request:
        shares = max(MIN_SHARES, parse_cpu(cpu_request) * SHARES_PER_CPU // 1000)
    quota = 0
    period = 0
    if limits.get("cpu"):
        period = CPU_PERIOD
        quota = max(1000, parse_cpu(limits["cpu"]) * CPU_PERIOD // 1000)
    memory = parse_memory(limits["memory"]) if limits.get("memory") else 0
    return LinuxContainerResources(
        cpu_shares=shares, cpu_quota=quota, cpu_period=period, memory_limit_in_bytes=memory,
        hugepage_limits=hugepage_limits(limits),
    )


def hugepage_limits(limits: dict[str, str]) -> tuple[HugepageLimit, ...]:
    """``hugepages-2Mi: 4Mi`` as the CRI's page size ``2MB`` and limit in bytes, as the kubelet
    converts them (ephemeral-storage has no CRI field: it is not applied)."""
    out = []
    for name, amount in sorted(limits.items()):
        if name.startswith(HUGEPAGES):
            size = name[len(HUGEPAGES):]
            out.append(HugepageLimit(page_size=size[:-2] + size[-2] + "B",
                                     limit=parse_memory(amount)))
    return tuple(out)


def needs_resize(current: LinuxContainerResources | None, wanted: LinuxContainerResources) -> bool:
    """Whether the resources in force differ from ``wanted`` in what resize changes."""
    if current is None:
        return False
    return (
        current.cpu_shares != wanted.cpu_shares
        or current.cpu_quota != wanted.cpu_quota
        or current.memory_limit_in_bytes != wanted.memory_limit_in_bytes
    )
