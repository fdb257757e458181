"""QoS classes, the pod-level cgroup parent per class, and oom_score_adj as the kubelet
computes them (pkg/apis/core/v1/helper/qos and pkg/kubelet/qos/policy.go).

- **Guaranteed**: every (init and regular) container has cpu and memory limits and its requests,
  where given, equal them; **BestEffort**: no container has any request or limit; otherwise
  **Burstable**. Requests default to limits, as the API server defaults them.
- cgroup parent (``--cgroups-per-qos``): ``/kubepods/pod<uid>`` for Guaranteed,
  ``/kubepods/burstable/pod<uid>``, ``/kubepods/besteffort/pod<uid>`` with the cgroupfs driver;
  ``kubepods[-burstable|-besteffort]-pod<uid_>.slice`` with systemd.
- oom_score_adj: Guaranteed -997, BestEffort 1000, Burstable ``1000 - 1000 * memory request /
  node memory`` kept within 3..999; a sidecar's is at most that of the regular container with
  the smallest memory request. The runtime clamps negative values where the host refuses them.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from kubert.kubelet.pod import Container, Pod
from kubert.kubelet.quantity import parse_cpu, parse_memory
from kubert.kubelet.settings import KubeletConfig

GUARANTEED, BURSTABLE, BEST_EFFORT = "Guaranteed", "Burstable", "BestEffort"
GUARANTEED_OOM_SCORE_ADJ = -997
BEST_EFFORT_OOM_SCORE_ADJ = 1000
_RESOURCES = ("cpu", "memory")


def _amount(resource: str, value: str) -> int:
    return parse_cpu(value) if resource == "cpu" else parse_memory(value)


def _requests(container: Container) -> dict[str, int]:
    """Requests with the API server's default: a limit without a request requests the limit."""
    limits = container.resources.limits
    requests = dict(container.resources.requests)
    for resource in _RESOURCES:
        if resource not in requests and resource in limits:
            requests[resource] = limits[resource]
    return {r: _amount(r, v) for r, v in requests.items() if r in _RESOURCES}


def _limits(container: Container) -> dict[str, int]:
    limits = container.resources.limits
    return {r: _amount(r, v) for r, v in limits.items() if r in _RESOURCES}


def qos_class(pod: Pod) -> str:
    """Guaranteed, Burstable or BestEffort (ephemeral containers do not count)."""
    containers = pod.spec.init_containers + pod.spec.containers
    if not any(_requests(c) or _limits(c) for c in containers):
        return BEST_EFFORT
    for container in containers:
        limits, requests = _limits(container), _requests(container)
        if set(limits) != set(_RESOURCES) or any(limits[r] == 0 for r in _RESOURCES):
            return BURSTABLE
        if any(requests.get(r) != limits[r] for r in _RESOURCES):
            return BURSTABLE
    return GUARANTEED


def pod_cgroup_parent(config: KubeletConfig, pod: Pod) -> str:
    """The pod's cgroup parent for its class ("" without ``cgroups_per_qos``)."""
    if not config.cgroups_per_qos:
        return ""
    qos = qos_class(pod)
    tier = {GUARANTEED: "", BURSTABLE: "burstable", BEST_EFFORT: "besteffort"}[qos]
    if config.cgroup_driver == "systemd":
        prefix = "kubepods" + (f"-{tier}" if tier else "")
        return f"{prefix}-pod{pod.uid.replace('-', '_')}.slice"
    parts = [config.cgroup_root.rstrip("/"), "kubepods", tier, f"pod{pod.uid}"]
    return "/" + "/".join(p.strip("/") for p in parts if p.strip("/"))


@cache
def _meminfo_total(path: str) -> int:
    for line in Path(path).read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise ValueError(f"{path} has no MemTotal")


def memory_capacity(config: KubeletConfig) -> int:
    """The node's memory in bytes: the configured figure, else /proc/meminfo's MemTotal."""
    return config.memory_capacity or _meminfo_total("/proc/meminfo")


def _burstable_score(memory_request: int, capacity: int) -> int:
    # Go's integer division on positive int64s, as the kubelet's
    return 1000 - (1000 * memory_request) // capacity


def oom_score_adj(pod: Pod, container: Container, capacity: int) -> int:
    """The kubelet's GetContainerOOMScoreAdjust for ``container`` of ``pod``."""
    qos = qos_class(pod)
    if qos == GUARANTEED:
        return GUARANTEED_OOM_SCORE_ADJ
    if qos == BEST_EFFORT:
        return BEST_EFFORT_OOM_SCORE_ADJ
    score = _burstable_score(_requests(container).get("memory", 0), capacity)
    if container.is_sidecar and container in pod.spec.init_containers and pod.spec.containers:
        smallest = min(_requests(c).get("memory", 0) for c in pod.spec.containers)
        score = min(score, _burstable_score(smallest, capacity))
    if score < 1000 + GUARANTEED_OOM_SCORE_ADJ:
        return 1000 + GUARANTEED_OOM_SCORE_ADJ
    if score == BEST_EFFORT_OOM_SCORE_ADJ:
        return score - 1
    return score
