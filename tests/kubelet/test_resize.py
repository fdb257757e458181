"""In-place resize (KEP-1287) over a real CRI socket (memory runtime): resizePolicy per
resource, sidecars resized too, decreases before increases, no memory limit under usage,
static pods not resized, and the outcome as a pod condition."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubert.cri.client import CriClient
from kubert.kubelet import load_pods
from kubert.kubelet.podconditions import load
from kubert.model import ContainerStats, LinuxContainerResources, MemoryUsage
from tests.fixtures.server import RunningServer

from .conftest import new_manager, unique_name

TEXT = """
metadata: {name: %(name)s}
spec:
  initContainers:
  - name: side
    image: 'busybox:1.36'
    restartPolicy: Always
    command: [sleep, '9999']
    resources: {limits: {memory: %(side)s}}
  containers:
  - name: small
    image: 'busybox:1.36'
    command: [sleep, '9999']
    resources: {limits: {memory: %(small)s, cpu: %(cpu)s}}
  - name: strict
    image: 'busybox:1.36'
    command: [sleep, '9999']
    resizePolicy: [{resourceName: memory, restartPolicy: RestartContainer}]
    resources: {limits: {memory: %(strict)s}}
"""
BASE = {"side": "64Mi", "small": "64Mi", "cpu": "500m", "strict": "64Mi"}


def make(name: str, **changes: str) -> Any:
    return load_pods(TEXT % {"name": name, **BASE, **changes})[0]


class Recording:
    """The CRI client, recording UpdateContainerResources calls in order and reporting a fixed
    memory working set (the fault injected: usage the memory runtime does not model)."""

    def __init__(self, cri: CriClient) -> None:
        self.cri = cri
        self.updates: list[tuple[str, int]] = []
        self.usage = 1 * 2**20

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cri, name)

    def update_container_resources(
        self, container_id: str, resources: LinuxContainerResources
    ) -> None:
        name = self.cri.container_status(container_id).metadata.name
        self.updates.append((name, resources.memory_limit_in_bytes))
        self.cri.update_container_resources(container_id, resources)

    def container_stats(self, container_id: str) -> ContainerStats:
        real = self.cri.container_stats(container_id)
        return ContainerStats(
            attributes=real.attributes, cpu=real.cpu,
            memory=MemoryUsage(timestamp=1, working_set_bytes=self.usage),
        )


def with_recording(cri: CriClient, tmp_path: Path, prefix: str) -> tuple[Recording, Any, str, Any]:
    """A manager over a Recording, a fresh pod name and the pod (not synced yet)."""
    recording = Recording(cri)
    manager, _ = new_manager(recording, tmp_path)  # type: ignore[arg-type]
    name = unique_name(prefix)
    return recording, manager, name, make(name)


def test_resize_policy_sidecars_order_and_usage(
    memory_server: RunningServer, memory_cri: CriClient, tmp_path: Path
) -> None:
    recording, manager, name, first = with_recording(memory_cri, tmp_path, "resize")
    try:
        for _ in range(2):
            manager.sync_pod(first)
        before = {c.name: c.id for c in manager.observe(first.uid).running_containers()}
        assert set(before) == {"side", "small", "strict"}
        # small grows, side shrinks, strict (RestartContainer for memory) grows
        changed = make(name, side="32Mi", small="128Mi", strict="128Mi")
        result = manager.sync_pod(changed)
        after = manager.observe(first.uid)
        running = {c.name: c.id for c in after.running_containers()}
        assert running["side"] == before["side"] and running["small"] == before["small"]
        assert running["strict"] != before["strict"]  # restarted, by its resizePolicy
        assert after.find("strict").restart_count == 1  # type: ignore[union-attr]
        # the decrease (side) before the increase (small); strict was not resized in place
        assert recording.updates == [("side", 32 * 2**20), ("small", 128 * 2**20)]
        assert all(s.ok for s in result.steps), result.steps
        recorded = load(manager.config.pod_dir(first.uid)).conditions
        assert "PodResizeInProgress" not in {c.type for c in recorded}

        # a memory limit below what the container uses is not applied, and says so
        recording.updates.clear()
        recording.usage = 100 * 2**20
        shrunk = make(name, side="32Mi", small="64Mi", strict="128Mi")
        result = manager.sync_pod(shrunk)
        errors = [(s.target, s.error) for s in result.steps if not s.ok]
        assert errors == [("small", "ResizeMemoryBelowUsage")]
        assert recording.updates == []
        conditions = {c.type: c for c in load(manager.config.pod_dir(first.uid)).conditions}
        assert conditions["PodResizeInProgress"].status == "True"
        assert "below the container's usage" in conditions["PodResizeInProgress"].message
        recording.usage = 1 * 2**20
        manager.sync_pod(shrunk)
        assert recording.updates == [("small", 64 * 2**20)]
        conditions = {c.type: c for c in load(manager.config.pod_dir(first.uid)).conditions}
        assert "PodResizeInProgress" not in conditions
    finally:
        manager.delete_pod(first.uid, first)


def test_static_pods_are_not_resized(
    memory_server: RunningServer, memory_cri: CriClient, tmp_path: Path
) -> None:
    recording, manager, name, first = with_recording(memory_cri, tmp_path, "static")
    try:
        source = "file:/etc/kubert/manifests/p.yaml"
        for _ in range(2):
            manager.sync_pod(first, source=source)
        result = manager.sync_pod(make(name, small="128Mi"), source=source)
        assert [(s.action, s.error) for s in result.steps] == [("ResizeContainer", "Infeasible")]
        assert recording.updates == []
        conditions = {c.type: c for c in load(manager.config.pod_dir(first.uid)).conditions}
        assert conditions["PodResizePending"].reason == "Infeasible"
    finally:
        manager.delete_pod(first.uid, first)
