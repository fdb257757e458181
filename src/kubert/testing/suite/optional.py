"""Optional operations, each behind its capability fixture: ExecSync, stats, container events,
resource updates, log reopening. A capability declared False must raise UnimplementedError."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

import pytest

from kubert.backends import RuntimeBackend
from kubert.errors import DeadlineExceededError, NotFoundError, UnimplementedError
from kubert.model import (
    ContainerEvent,
    ContainerEventType,
    ContainerStatsFilter,
    LinuxContainerResources,
    PodSandboxStatsFilter,
)
from kubert.testing.suite.base import BackendFixtures, Pods, forbid, require

__all__ = [
    "EventTests",
    "ExecSyncTests",
    "ReopenLogTests",
    "StatsTests",
    "UpdateResourcesTests",
]


class ExecSyncTests(BackendFixtures):
    def test_exec_output_and_exit_code(
        self, backend: RuntimeBackend, pods: Pods, supports_exec_sync: bool
    ) -> None:
        require(supports_exec_sync, "supports_exec_sync")
        _, container_id = pods.running()
        result = backend.exec_sync(container_id, ["echo", "hello", "world"], 10)
        assert (result.stdout, result.exit_code) == (b"hello world\n", 0)
        assert backend.exec_sync(container_id, ["sh", "-c", "exit 7"], 10).exit_code == 7

    def test_exec_timeout_is_deadline_exceeded(
        self, backend: RuntimeBackend, pods: Pods, supports_exec_sync: bool
    ) -> None:
        require(supports_exec_sync, "supports_exec_sync")
        _, container_id = pods.running()
        with pytest.raises(DeadlineExceededError):
            backend.exec_sync(container_id, ["sleep", "30"], 1)

    def test_exec_unknown_container(
        self, backend: RuntimeBackend, supports_exec_sync: bool
    ) -> None:
        require(supports_exec_sync, "supports_exec_sync")
        with pytest.raises(NotFoundError):
            backend.exec_sync("feed" * 16, ["true"], 1)

    def test_unsupported_exec_is_unimplemented(
        self, backend: RuntimeBackend, pods: Pods, supports_exec_sync: bool
    ) -> None:
        forbid(supports_exec_sync, "supports_exec_sync")
        _, container_id = pods.running()
        with pytest.raises(UnimplementedError):
            backend.exec_sync(container_id, ["true"], 1)


class StatsTests(BackendFixtures):
    def test_container_and_pod_stats(
        self, backend: RuntimeBackend, pods: Pods, supports_stats: bool
    ) -> None:
        require(supports_stats, "supports_stats")
        sandbox_id, container_id = pods.running()
        stats = backend.container_stats(container_id)
        assert stats.attributes.id == container_id
        assert stats.cpu is not None and stats.memory is not None
        listed = backend.list_container_stats(ContainerStatsFilter(pod_sandbox_id=sandbox_id))
        assert container_id in {s.attributes.id for s in listed}
        pod = backend.pod_sandbox_stats(sandbox_id)
        assert pod.attributes.id == sandbox_id
        pod_list = backend.list_pod_sandbox_stats(PodSandboxStatsFilter(id=sandbox_id))
        assert [p.attributes.id for p in pod_list] == [sandbox_id]

    def test_unsupported_stats_are_unimplemented(
        self, backend: RuntimeBackend, pods: Pods, supports_stats: bool
    ) -> None:
        forbid(supports_stats, "supports_stats")
        _, container_id = pods.running()
        with pytest.raises(UnimplementedError):
            backend.container_stats(container_id)


def _collect(events: Iterator[ContainerEvent], into: queue.SimpleQueue[ContainerEvent]) -> None:
    for event in events:
        into.put(event)


class EventTests(BackendFixtures):
    def test_lifecycle_events_in_order(
        self, backend: RuntimeBackend, pods: Pods, supports_events: bool, settle_seconds: float
    ) -> None:
        require(supports_events, "supports_events")
        stream = backend.container_events()
        seen: queue.SimpleQueue[ContainerEvent] = queue.SimpleQueue()
        # The iterator blocks until the next event, so a daemon thread drains it.
        threading.Thread(target=_collect, args=(stream, seen), daemon=True).start()
        sandbox_id = pods.sandbox()
        container_id = pods.container(sandbox_id, start=True)
        backend.stop_container(container_id, 0)
        backend.remove_container(container_id)
        wanted = [
            ContainerEventType.CONTAINER_CREATED_EVENT,
            ContainerEventType.CONTAINER_STARTED_EVENT,
            ContainerEventType.CONTAINER_STOPPED_EVENT,
            ContainerEventType.CONTAINER_DELETED_EVENT,
        ]
        got: list[ContainerEventType] = []
        # Events may trail the calls that caused them; wait a bounded while.
        deadline = time.monotonic() + settle_seconds + 2.0
        while len(got) < len(wanted) and time.monotonic() < deadline:
            try:
                event = seen.get(timeout=0.1)
            except queue.Empty:
                continue
            if event.container_id == container_id:
                got.append(event.container_event_type)
                assert event.created_at > 0
        assert got == wanted

    def test_unsupported_events_are_unimplemented(
        self, backend: RuntimeBackend, supports_events: bool
    ) -> None:
        forbid(supports_events, "supports_events")
        with pytest.raises(UnimplementedError):
            next(iter(backend.container_events()))


class UpdateResourcesTests(BackendFixtures):
    def test_update_shows_in_status(
        self, backend: RuntimeBackend, pods: Pods, supports_update_resources: bool
    ) -> None:
        require(supports_update_resources, "supports_update_resources")
        _, container_id = pods.running()
        wanted = LinuxContainerResources(
            cpu_period=100_000, cpu_quota=50_000, cpu_shares=512,
            memory_limit_in_bytes=64 * 1024 * 1024,
        )
        backend.update_container_resources(container_id, wanted)
        resources = backend.container_status(container_id).resources
        assert resources is not None and resources.linux is not None
        got = resources.linux
        assert (got.cpu_period, got.cpu_quota, got.cpu_shares, got.memory_limit_in_bytes) == (
            100_000, 50_000, 512, 64 * 1024 * 1024,
        )

    def test_unsupported_update_is_unimplemented(
        self, backend: RuntimeBackend, pods: Pods, supports_update_resources: bool
    ) -> None:
        forbid(supports_update_resources, "supports_update_resources")
        _, container_id = pods.running()
        with pytest.raises(UnimplementedError):
            backend.update_container_resources(container_id, LinuxContainerResources())


class ReopenLogTests(BackendFixtures):
    def test_reopen_running_container_log(
        self, backend: RuntimeBackend, pods: Pods, supports_reopen_log: bool
    ) -> None:
        require(supports_reopen_log, "supports_reopen_log")
        _, container_id = pods.running()
        backend.reopen_container_log(container_id)
        with pytest.raises(NotFoundError):
            backend.reopen_container_log("feed" * 16)

    def test_unsupported_reopen_is_unimplemented(
        self, backend: RuntimeBackend, pods: Pods, supports_reopen_log: bool
    ) -> None:
        forbid(supports_reopen_log, "supports_reopen_log")
        _, container_id = pods.running()
        with pytest.raises(UnimplementedError):
            backend.reopen_container_log(container_id)
