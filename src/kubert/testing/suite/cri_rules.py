"""Rules of the CRI that a backend meets through kubert's core, checked with the core around it.

The backend contract says NotFound for an unknown ID; the CRI says that stopping or removing
what is gone succeeds (the kubelet retries both), that a sandbox only its checkpoint remembers
has a status like any other, that Version answers while the runtime is down, and that
RunAsGroup needs a user. These tests build a :class:`~kubert.service.KubertService` around the
suite's ``backend`` fixture (with a file checkpoint store and no network) and hold every backend
that runs the suite to those answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubert.backends import BackendContext, ImageBackend, RuntimeBackend
from kubert.checkpoint import FileCheckpointStore
from kubert.errors import InvalidArgumentError, NotFoundError, UnavailableError
from kubert.model import (
    RUNTIME_READY,
    LinuxContainerSecurityContext,
    PodSandboxState,
)
from kubert.network_noop import NoopNetwork
from kubert.service import KubertService
from kubert.testing.configs import ConfigFactory
from kubert.testing.suite.base import BackendFixtures, Pods
from kubert.testing.suite.errors import UNKNOWN_ID

__all__ = ["CriRuleTests"]


class CriRuleTests(BackendFixtures):
    @pytest.fixture
    def service(
        self,
        backend: RuntimeBackend,
        image_backend: ImageBackend | None,
        pods: Pods,
        tmp_path: Path,
    ) -> Iterator[KubertService]:
        """The core around ``backend``; not closed here (the backend fixture closes it)."""
        root = tmp_path / "cri-rules"
        root.mkdir()
        images = image_backend or backend
        assert isinstance(images, ImageBackend), "the CRI rules need an image backend"
        yield KubertService(
            runtime=backend,
            images=images,
            network=NoopNetwork(BackendContext(root_dir=root)),
            checkpoints=FileCheckpointStore(BackendContext(root_dir=root)),
            pod_infra_image=backend.context.pod_infra_container_image,
        )

    def test_stop_and_remove_of_unknown_ids_succeed(self, service: KubertService) -> None:
        service.stop_container(UNKNOWN_ID, 0)
        service.remove_container(UNKNOWN_ID)
        service.stop_pod_sandbox(UNKNOWN_ID)
        service.remove_pod_sandbox(UNKNOWN_ID)
        with pytest.raises(NotFoundError):
            service.container_status(UNKNOWN_ID)
        with pytest.raises(NotFoundError):
            service.pod_sandbox_status(UNKNOWN_ID)

    def test_stop_of_a_removed_container_succeeds(
        self, service: KubertService, pods: Pods
    ) -> None:
        _, container_id = pods.running()
        service.remove_container(container_id)
        service.stop_container(container_id, 0)

    def test_run_as_group_needs_a_user(self) -> None:
        with pytest.raises(InvalidArgumentError, match=r"run_as_group") as raised:
            LinuxContainerSecurityContext(run_as_group=1234)
        assert raised.value.field == "linux.security_context.run_as_group"
        LinuxContainerSecurityContext(run_as_group=1234, run_as_user=0)
        LinuxContainerSecurityContext(run_as_group=1234, run_as_username="root")

    def test_sandbox_only_its_checkpoint_remembers(
        self, service: KubertService, backend: RuntimeBackend, configs: ConfigFactory
    ) -> None:
        config = configs.sandbox()
        sandbox_id = service.run_pod_sandbox(config)
        # Removed behind the core's back (an engine container deleted by hand).
        backend.remove_sandbox(sandbox_id)
        listed = {s.id: s for s in service.list_pod_sandbox()}
        assert listed[sandbox_id].state == PodSandboxState.SANDBOX_NOTREADY
        status = service.pod_sandbox_status(sandbox_id[:12]).status
        assert (status.id, status.state) == (sandbox_id, PodSandboxState.SANDBOX_NOTREADY)
        assert status.metadata == config.metadata
        assert status.labels == dict(config.labels)
        assert status.created_at == listed[sandbox_id].created_at
        service.stop_pod_sandbox(sandbox_id[:12])
        service.remove_pod_sandbox(sandbox_id[:12])
        assert sandbox_id not in {s.id for s in service.list_pod_sandbox()}
        with pytest.raises(NotFoundError):
            service.pod_sandbox_status(sandbox_id)

    def test_version_answers_while_the_runtime_is_down(
        self, service: KubertService, backend: RuntimeBackend, monkeypatch: Any
    ) -> None:
        before = service.version()
        # Fault injection: the backend's runtime becomes unreachable.
        down = UnavailableError(backend.name or "runtime", "engine unreachable (injected)")

        def unreachable(*_: Any) -> Any:
            raise down

        monkeypatch.setattr(backend, "version", unreachable)
        monkeypatch.setattr(backend, "status", unreachable)
        during = service.version()
        assert during == before  # the backend's version from the last contact
        ready = {c.type: c for c in service.status().status.conditions}[RUNTIME_READY]
        assert not ready.status and ready.reason and ready.message
