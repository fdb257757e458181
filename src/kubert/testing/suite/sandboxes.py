"""Sandbox lifecycle: create, start, stop, remove, and the identity rule of metadata."""

from __future__ import annotations

import pytest

from kubert.backends import RuntimeBackend
from kubert.errors import AlreadyExistsError, NotFoundError
from kubert.model import ContainerState, PodSandboxState
from kubert.testing.configs import ConfigFactory
from kubert.testing.strategies import SandboxSpec
from kubert.testing.suite.base import BackendFixtures, Pods

__all__ = ["SandboxLifecycleTests"]


class SandboxLifecycleTests(BackendFixtures):
    def test_created_then_started_sandbox_is_ready(
        self, backend: RuntimeBackend, pods: Pods
    ) -> None:
        sandbox_id = pods.sandbox(start=False)
        backend.start_sandbox(sandbox_id)
        assert backend.sandbox_status(sandbox_id).state == PodSandboxState.SANDBOX_READY
        listed = [s for s in backend.list_sandboxes(None) if s.id == sandbox_id]
        assert [s.state for s in listed] == [PodSandboxState.SANDBOX_READY]

    def test_stop_makes_sandbox_notready_and_stops_its_containers(
        self, backend: RuntimeBackend, pods: Pods
    ) -> None:
        sandbox_id, container_id = pods.running()
        created_id = pods.container(sandbox_id)
        backend.stop_sandbox(sandbox_id)
        assert backend.sandbox_status(sandbox_id).state == PodSandboxState.SANDBOX_NOTREADY
        assert backend.container_status(container_id).state == ContainerState.CONTAINER_EXITED
        assert backend.container_status(created_id).state in (
            ContainerState.CONTAINER_CREATED, ContainerState.CONTAINER_EXITED,
        )

    def test_remove_removes_sandbox_and_its_containers(
        self, backend: RuntimeBackend, pods: Pods
    ) -> None:
        sandbox_id, running_id = pods.running()
        created_id = pods.container(sandbox_id)
        backend.stop_sandbox(sandbox_id)
        backend.remove_sandbox(sandbox_id)
        assert sandbox_id not in {s.id for s in backend.list_sandboxes(None)}
        listed = {c.id for c in backend.list_containers(None)}
        assert not {running_id, created_id} & listed
        with pytest.raises(NotFoundError):
            backend.sandbox_status(sandbox_id)
        with pytest.raises(NotFoundError):
            backend.container_status(running_id)

    def test_remove_ready_sandbox_with_running_container(
        self, backend: RuntimeBackend, pods: Pods
    ) -> None:
        sandbox_id, container_id = pods.running()
        backend.remove_sandbox(sandbox_id)
        with pytest.raises(NotFoundError):
            backend.container_status(container_id)

    def test_same_metadata_already_exists_even_when_stopped(
        self, backend: RuntimeBackend, pods: Pods, configs: ConfigFactory
    ) -> None:
        config = configs.sandbox()
        sandbox_id = pods.sandbox(config)
        with pytest.raises(AlreadyExistsError):
            backend.create_sandbox(config, "")
        backend.stop_sandbox(sandbox_id)
        with pytest.raises(AlreadyExistsError):
            backend.create_sandbox(config, "")

    def test_next_attempt_may_run_beside_the_stopped_one(
        self, backend: RuntimeBackend, pods: Pods, configs: ConfigFactory
    ) -> None:
        first = pods.sandbox(configs.sandbox(SandboxSpec("retry")))
        backend.stop_sandbox(first)
        second = pods.sandbox(configs.sandbox(SandboxSpec("retry", attempt=1)))
        assert first != second
        assert backend.sandbox_status(second).state == PodSandboxState.SANDBOX_READY
        assert backend.sandbox_status(first).state == PodSandboxState.SANDBOX_NOTREADY

    def test_names_differing_in_one_field_coexist(
        self, backend: RuntimeBackend, pods: Pods, configs: ConfigFactory
    ) -> None:
        specs = [
            SandboxSpec("twin"),
            SandboxSpec("twin", namespace="other"),
            SandboxSpec("twin", uid="u2"),
            SandboxSpec("twin", attempt=1),
            SandboxSpec("twin2"),
        ]
        ids = [pods.sandbox(configs.sandbox(spec)) for spec in specs]
        assert len(set(ids)) == len(specs)
