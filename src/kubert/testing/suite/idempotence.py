"""Repeating a stop or a removal is harmless, and stopping what never ran changes nothing."""

from __future__ import annotations

from kubert.backends import RuntimeBackend
from kubert.model import ContainerState, PodSandboxState
from kubert.testing.suite.base import BackendFixtures, Pods

__all__ = ["IdempotenceTests"]


class IdempotenceTests(BackendFixtures):
    def test_stop_sandbox_twice(self, backend: RuntimeBackend, pods: Pods) -> None:
        sandbox_id, _ = pods.running()
        backend.stop_sandbox(sandbox_id)
        backend.stop_sandbox(sandbox_id)
        assert backend.sandbox_status(sandbox_id).state == PodSandboxState.SANDBOX_NOTREADY

    def test_stop_container_twice_keeps_first_exit(
        self, backend: RuntimeBackend, pods: Pods
    ) -> None:
        _, container_id = pods.running()
        backend.stop_container(container_id, 0)
        first = backend.container_status(container_id)
        backend.stop_container(container_id, 0)
        again = backend.container_status(container_id)
        assert again.state == ContainerState.CONTAINER_EXITED
        assert (again.exit_code, again.finished_at) == (first.exit_code, first.finished_at)

    def test_stop_exited_container_keeps_its_code(
        self, backend: RuntimeBackend, pods: Pods
    ) -> None:
        container_id = pods.exited(pods.sandbox(), 3)
        backend.stop_container(container_id, 0)
        assert backend.container_status(container_id).exit_code == 3

    def test_stop_created_container_leaves_it_created(
        self, backend: RuntimeBackend, pods: Pods
    ) -> None:
        container_id = pods.container(pods.sandbox())
        backend.stop_container(container_id, 0)
        assert backend.container_status(container_id).state == ContainerState.CONTAINER_CREATED

    def test_remove_after_stop_sandbox(self, backend: RuntimeBackend, pods: Pods) -> None:
        sandbox_id, _ = pods.running()
        backend.stop_sandbox(sandbox_id)
        backend.remove_sandbox(sandbox_id)
        assert sandbox_id not in {s.id for s in backend.list_sandboxes(None)}
