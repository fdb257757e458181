"""In-place resize as KEP-1287 has it: ``resizePolicy`` per resource, decreases applied before
increases, a memory limit never lowered below what the container uses, static pods not
resized, and the outcome shown as the PodResizePending / PodResizeInProgress conditions.

:func:`restart_needed` decides, per running container, whether its resource change is applied
in place (``NotRequired``, the default) or by restarting it (``RestartContainer`` on a changed
resource).
"""

from __future__ import annotations

from attrs import field, frozen

from kubert.model import LinuxContainerResources

RESOURCE_NAMES = ("cpu", "memory")
RESIZE_POLICIES = ("NotRequired", "RestartContainer")
RESIZE_PENDING = "PodResizePending"
RESIZE_IN_PROGRESS = "PodResizeInProgress"


@frozen(kw_only=True)
class ContainerResizePolicy:
    resource_name: str = field(metadata={"choices": RESOURCE_NAMES})
    restart_policy: str = field(default="NotRequired", metadata={"choices": RESIZE_POLICIES})


def changed_resources(
    current: LinuxContainerResources | None, wanted: LinuxContainerResources
) -> set[str]:
    """Which of cpu and memory differ between what is in force and what is wanted."""
    if current is None:
        return set()
    out = set()
    if (current.cpu_shares, current.cpu_quota) != (wanted.cpu_shares, wanted.cpu_quota):
        out.add("cpu")
    if current.memory_limit_in_bytes != wanted.memory_limit_in_bytes:
        out.add("memory")
    return out


def restart_needed(
    policies: tuple[ContainerResizePolicy, ...],
    current: LinuxContainerResources | None,
    wanted: LinuxContainerResources,
) -> bool:
    """Whether a changed resource's policy is RestartContainer."""
    restart = {p.resource_name for p in policies if p.restart_policy == "RestartContainer"}
    return bool(changed_resources(current, wanted) & restart)


def is_decrease(current: LinuxContainerResources | None, wanted: LinuxContainerResources) -> bool:
    """Whether the change lowers cpu or memory: those are applied first, as the kubelet does,
    so the pod never holds the sum of old and new."""
    if current is None:
        return False
    lower_memory = 0 < wanted.memory_limit_in_bytes < current.memory_limit_in_bytes or (
        current.memory_limit_in_bytes == 0 and wanted.memory_limit_in_bytes > 0
    )
    return lower_memory or wanted.cpu_shares < current.cpu_shares


def memory_below_usage(wanted: LinuxContainerResources, usage: int | None) -> bool:
    """Whether the wanted memory limit is under the container's working set."""
    return bool(wanted.memory_limit_in_bytes and usage and usage > wanted.memory_limit_in_bytes)
