"""The stats RPCs' answers, assembled from the cgroup and /proc readings of :mod:`.stats`:
container stats, pod stats (the pod's cgroup, or the sum of its containers when it has none of
its own) and the cAdvisor-named pod metrics. Records come from the :class:`.state.StateView`."""

from __future__ import annotations

import time

from kubert import (
    ContainerAttributes,
    ContainerStats,
    ContainerStatsFilter,
    ContainerStatus,
    LinuxPodSandboxStats,
    PodSandboxAttributes,
    PodSandboxMetrics,
    PodSandboxStats,
    PodSandboxStatsFilter,
    ProcessUsage,
    pod_sandbox_metrics,
)
from kubert_docker import cadvisor, naming
from kubert_docker.state import StateView
from kubert_docker.stats import StatsReader, network_usage
from kubert_docker.status import Record

__all__ = [
    "container_stats",
    "list_container_stats",
    "list_pod_stats",
    "pod_metrics",
    "pod_stats",
]


def container_stats(reader: StatsReader, record: Record, now: int) -> ContainerStats:
    """The stats of the container ``record`` at ``now`` (ns)."""
    paths = reader.paths(record.id, record.pid) if record.running else None
    upper = ((record.inspect.get("GraphDriver") or {}).get("Data") or {}).get("UpperDir", "")
    return ContainerStats(
        attributes=ContainerAttributes(
            id=record.id,
            metadata=record.status.metadata,  # type: ignore[arg-type]
            labels=dict(record.meta.labels),
            annotations=dict(record.meta.annotations),
        ),
        cpu=reader.cpu(record.id, paths, now),
        memory=paths.memory(now) if paths else None,
        writable_layer=reader.writable_layer(record.id, upper, now),
    )


def list_container_stats(
    reader: StatsReader, state: StateView, filter: ContainerStatsFilter | None
) -> list[ContainerStats]:
    """The stats of every container ``filter`` (None: no filter) matches."""
    now = time.time_ns()
    chosen = [
        r for r in state.all(naming.TYPE_CONTAINER)
        if filter is None or filter.matches(r.id, r.sandbox_id, r.meta.labels)
    ]
    return [container_stats(reader, r, now) for r in chosen]


def pod_stats(reader: StatsReader, state: StateView, sandbox: Record, now: int) -> PodSandboxStats:
    """The stats of the pod of ``sandbox`` at ``now`` (ns), its containers' included."""
    members = [c for c in state.in_sandbox(sandbox.id)]
    containers = tuple(container_stats(reader, c, now) for c in members)
    pause_paths = reader.paths(sandbox.id, sandbox.pid) if sandbox.running else None
    pod_paths = (
        pause_paths.parent()
        if pause_paths is not None and sandbox.meta.extra.get("cgroup_parent")
        else None
    )
    if pod_paths is not None:
        cpu = reader.cpu(f"pod:{sandbox.id}", pod_paths, now)
        memory = pod_paths.memory(now)
        processes = pod_paths.pids()
    else:
        # No pod cgroup of its own: the pod is the sum of its pause and app containers.
        pause_cpu = reader.cpu(sandbox.id, pause_paths, now)
        pause_memory = pause_paths.memory(now) if pause_paths else None
        parts_cpu = [c.cpu for c in containers if c.cpu] + ([pause_cpu] if pause_cpu else [])
        parts_mem = [c.memory for c in containers if c.memory] + (
            [pause_memory] if pause_memory else []
        )
        cpu = type(parts_cpu[0])(
            timestamp=now,
            usage_core_nano_seconds=sum(p.usage_core_nano_seconds or 0 for p in parts_cpu),
            usage_nano_cores=sum(p.usage_nano_cores or 0 for p in parts_cpu),
        ) if parts_cpu else None
        memory = type(parts_mem[0])(
            timestamp=now,
            working_set_bytes=sum(p.working_set_bytes or 0 for p in parts_mem),
            usage_bytes=sum(p.usage_bytes or 0 for p in parts_mem),
            rss_bytes=sum(p.rss_bytes or 0 for p in parts_mem),
        ) if parts_mem else None
        counts = [
            p.pids() for p in (
                [pause_paths] + [reader.paths(c.id, c.pid) for c in members if c.running]
            ) if p is not None
        ]
        processes = sum(c for c in counts if c is not None) if counts else None
    return PodSandboxStats(
        attributes=PodSandboxAttributes(
            id=sandbox.id,
            metadata=sandbox.status.metadata,  # type: ignore[arg-type]
            labels=dict(sandbox.meta.labels),
            annotations=dict(sandbox.meta.annotations),
        ),
        linux=LinuxPodSandboxStats(
            cpu=cpu,
            memory=memory,
            network=network_usage(sandbox.pid, now) if sandbox.running else None,
            process=ProcessUsage(timestamp=now, process_count=processes),
            containers=containers,
        ),
    )


def list_pod_stats(
    reader: StatsReader, state: StateView, filter: PodSandboxStatsFilter | None
) -> list[PodSandboxStats]:
    """The stats of every pod ``filter`` (None: no filter) matches."""
    now = time.time_ns()
    return [
        pod_stats(reader, state, s, now)
        for s in state.all(naming.TYPE_SANDBOX)
        if filter is None or filter.matches(s.id, s.meta.labels)
    ]


def pod_metrics(reader: StatsReader, state: StateView) -> list[PodSandboxMetrics]:
    """cAdvisor's series of every running pod, from the same readings as the stats above."""
    now = time.time_ns()
    answers = []
    for sandbox in state.all(naming.TYPE_SANDBOX):
        if not sandbox.running:
            continue
        images = {
            c.id: c.status.image.image for c in state.in_sandbox(sandbox.id)
            if isinstance(c.status, ContainerStatus) and c.status.image is not None
        }
        images[sandbox.id] = str((sandbox.inspect.get("Config") or {}).get("Image", ""))
        stats = pod_stats(reader, state, sandbox, now)
        processes = {
            r.id: (r.pid, getattr(r.status, "started_at", 0))
            for r in (sandbox, *state.in_sandbox(sandbox.id)) if r.running
        }
        answers.append(cadvisor.with_series(
            pod_sandbox_metrics(stats, images, now), stats, images, processes, reader, now,
        ))
    return answers
