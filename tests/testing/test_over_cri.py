"""The whole suite through kubert's CRI server: protobuf, the socket, the core, and the memory
backend behind them, checked against a second memory backend as the reference model.

``CriBackend`` speaks the backend contract over a :class:`CriClient`. Where CRI deliberately
differs from the contract it restores the contract with a status call first: RunPodSandbox
creates and starts in one call, and StopPodSandbox / RemovePodSandbox / RemoveContainer succeed
for unknown IDs (the kubelet retries them), where the contract says NotFound.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from kubert import (
    RUNTIME_READY,
    AuthConfig,
    BackendContext,
    Container,
    ContainerConfig,
    ContainerEvent,
    ContainerFilter,
    ContainerStats,
    ContainerStatsFilter,
    ContainerStatus,
    ExecSyncResult,
    FailedPreconditionError,
    Image,
    ImageBackend,
    ImageFilter,
    ImageSpec,
    LinuxContainerResources,
    PodSandbox,
    PodSandboxConfig,
    PodSandboxFilter,
    PodSandboxState,
    PodSandboxStats,
    PodSandboxStatsFilter,
    PodSandboxStatus,
    PullProgress,
    RuntimeBackend,
    RuntimeCondition,
    SandboxCreated,
    VersionInfo,
)
from kubert.cri.client import CriClient
from kubert.testing.suite import BackendSuite
from tests.fixtures.server import INFRA_IMAGE, RunningServer


class CriBackend(RuntimeBackend, ImageBackend):
    """The backend contract over a CRI client (see the module docstring for the differences)."""

    name = "cri"

    def __init__(self, context: BackendContext, client: CriClient, server: RunningServer):
        super().__init__(context)
        self.client = client
        # The memory backend behind the server: its exit_container helper lets the state
        # machine make containers exit by themselves, seen through the whole stack.
        self.exit_container = server.runtime.exit_container

    def version(self) -> VersionInfo:
        return self.client.version()

    def status(self) -> RuntimeCondition:
        return next(c for c in self.client.status().conditions if c.type == RUNTIME_READY)

    def create_sandbox(self, config: PodSandboxConfig, runtime_handler: str) -> SandboxCreated:
        return SandboxCreated(id=self.client.run_pod_sandbox(config, runtime_handler))

    def start_sandbox(self, sandbox_id: str) -> None:
        if self.client.pod_sandbox_status(sandbox_id).state != PodSandboxState.SANDBOX_READY:
            raise FailedPreconditionError(f"sandbox {sandbox_id!r} was stopped")

    def stop_sandbox(self, sandbox_id: str) -> None:
        self.client.pod_sandbox_status(sandbox_id)
        self.client.stop_pod_sandbox(sandbox_id)

    def remove_sandbox(self, sandbox_id: str) -> None:
        self.client.pod_sandbox_status(sandbox_id)
        self.client.remove_pod_sandbox(sandbox_id)

    def sandbox_status(self, sandbox_id: str) -> PodSandboxStatus:
        return self.client.pod_sandbox_status(sandbox_id)

    def list_sandboxes(self, filter: PodSandboxFilter | None) -> list[PodSandbox]:
        return self.client.list_pod_sandbox(filter)

    def create_container(
        self, sandbox_id: str, config: ContainerConfig, sandbox_config: PodSandboxConfig
    ) -> str:
        return self.client.create_container(sandbox_id, config, sandbox_config)

    def start_container(self, container_id: str) -> None:
        self.client.start_container(container_id)

    def stop_container(self, container_id: str, timeout: int) -> None:
        self.client.container_status(container_id)
        self.client.stop_container(container_id, timeout)

    def remove_container(self, container_id: str) -> None:
        self.client.container_status(container_id)
        self.client.remove_container(container_id)

    def container_status(self, container_id: str) -> ContainerStatus:
        return self.client.container_status(container_id)

    def list_containers(self, filter: ContainerFilter | None) -> list[Container]:
        return self.client.list_containers(filter)

    def update_container_resources(
        self, container_id: str, resources: LinuxContainerResources
    ) -> None:
        self.client.update_container_resources(container_id, resources)

    def reopen_container_log(self, container_id: str) -> None:
        self.client.reopen_container_log(container_id)

    def exec_sync(self, container_id: str, cmd: Sequence[str], timeout: int) -> ExecSyncResult:
        return self.client.exec_sync(container_id, cmd, timeout)

    def container_stats(self, container_id: str) -> ContainerStats:
        return self.client.container_stats(container_id)

    def list_container_stats(self, filter: ContainerStatsFilter | None) -> list[ContainerStats]:
        return self.client.list_container_stats(filter)

    def pod_sandbox_stats(self, sandbox_id: str) -> PodSandboxStats:
        return self.client.pod_sandbox_stats(sandbox_id)

    def list_pod_sandbox_stats(
        self, filter: PodSandboxStatsFilter | None
    ) -> list[PodSandboxStats]:
        return self.client.list_pod_sandbox_stats(filter)

    def container_events(self) -> Iterator[ContainerEvent]:
        return self.client.container_events()

    def list_images(self, filter: ImageFilter | None) -> list[Image]:
        return self.client.list_images(filter)

    def image_status(self, image: ImageSpec) -> Image | None:
        return self.client.image_status(image)

    def pull_image(
        self,
        image: ImageSpec,
        auth: AuthConfig | None,
        sandbox_config: PodSandboxConfig | None,
        progress: Callable[[PullProgress], None] | None = None,
    ) -> str:
        return self.client.pull_image(image, auth, sandbox_config)

    def remove_image(self, image: ImageSpec) -> None:
        self.client.remove_image(image)

    def close(self) -> None:
        self.client.close()


class TestMemoryOverCri(BackendSuite):
    @pytest.fixture
    def backend(self, cri_server_factory: Callable[..., RunningServer]) -> Iterator[CriBackend]:
        server = cri_server_factory()
        backend = CriBackend(
            BackendContext(root_dir=server.root, pod_infra_container_image=INFRA_IMAGE),
            server.client(), server,
        )
        yield backend
        backend.close()

    @pytest.fixture
    def settle_seconds(self) -> float:
        return 2.0

    @pytest.fixture
    def hypothesis_settings(self) -> dict[str, Any]:
        return {"max_examples": 25}
