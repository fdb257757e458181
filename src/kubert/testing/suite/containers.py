"""Container lifecycle: created, running, exited (stopped or by itself), removed."""

from __future__ import annotations

import pytest

from kubert.backends import RuntimeBackend
from kubert.errors import AlreadyExistsError, FailedPreconditionError, NotFoundError
from kubert.model import ContainerState
from kubert.testing.configs import ConfigFactory
from kubert.testing.strategies import ContainerSpec
from kubert.testing.suite.base import BackendFixtures, Pods

__all__ = ["ContainerLifecycleTests"]


class ContainerLifecycleTests(BackendFixtures):
    def test_create_start_stop_remove(self, backend: RuntimeBackend, pods: Pods) -> None:
        sandbox_id = pods.sandbox()
        container_id = pods.container(sandbox_id)
        assert backend.container_status(container_id).state == ContainerState.CONTAINER_CREATED
        backend.start_container(container_id)
        assert backend.container_status(container_id).state == ContainerState.CONTAINER_RUNNING
        backend.stop_container(container_id, 0)
        status = backend.container_status(container_id)
        assert status.state == ContainerState.CONTAINER_EXITED
        assert status.exit_code != 0, "a stopped container was killed, so its code is not 0"
        backend.remove_container(container_id)
        with pytest.raises(NotFoundError):
            backend.container_status(container_id)
        assert container_id not in {c.id for c in backend.list_containers(None)}

    @pytest.mark.parametrize("code", [0, 1, 3])
    def test_container_exits_by_itself_with_its_code(
        self, backend: RuntimeBackend, pods: Pods, code: int
    ) -> None:
        container_id = pods.exited(pods.sandbox(), code)
        status = backend.container_status(container_id)
        assert status.state == ContainerState.CONTAINER_EXITED
        assert status.exit_code == code
        assert status.finished_at >= status.started_at > 0

    def test_remove_running_container(self, backend: RuntimeBackend, pods: Pods) -> None:
        _, container_id = pods.running()
        backend.remove_container(container_id)
        with pytest.raises(NotFoundError):
            backend.container_status(container_id)

    def test_start_twice_fails_precondition(self, backend: RuntimeBackend, pods: Pods) -> None:
        _, container_id = pods.running()
        with pytest.raises(FailedPreconditionError):
            backend.start_container(container_id)

    def test_start_exited_fails_precondition(self, backend: RuntimeBackend, pods: Pods) -> None:
        container_id = pods.exited(pods.sandbox(), 0)
        with pytest.raises(FailedPreconditionError):
            backend.start_container(container_id)

    def test_create_in_stopped_sandbox_fails_precondition(
        self, backend: RuntimeBackend, pods: Pods, configs: ConfigFactory
    ) -> None:
        sandbox_id = pods.sandbox()
        backend.stop_sandbox(sandbox_id)
        with pytest.raises(FailedPreconditionError):
            backend.create_container(
                sandbox_id, configs.container(), pods.sandbox_configs[sandbox_id]
            )

    def test_same_name_and_attempt_already_exists(
        self, backend: RuntimeBackend, pods: Pods, configs: ConfigFactory
    ) -> None:
        sandbox_id = pods.sandbox()
        config = configs.container(ContainerSpec("twin"))
        pods.container(sandbox_id, config)
        with pytest.raises(AlreadyExistsError):
            backend.create_container(sandbox_id, config, pods.sandbox_configs[sandbox_id])
        pods.container(sandbox_id, configs.container(ContainerSpec("twin", attempt=1)))
        pods.container(pods.sandbox(), config)

    def test_unknown_sandbox_is_not_found(
        self, backend: RuntimeBackend, pods: Pods, configs: ConfigFactory
    ) -> None:
        with pytest.raises(NotFoundError):
            backend.create_container("0" * 64, configs.container(), configs.sandbox())
