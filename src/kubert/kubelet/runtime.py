"""The CRI calls the kubelet side makes, as a Protocol any CRI client satisfies.

kubert's own gRPC client (``kubert.cri.client``) implements it over a socket; tests may hand
in anything with the same methods. Arguments and results are kubert models, never protobuf.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from kubert.model import (
    AuthConfig,
    Container,
    ContainerConfig,
    ContainerEvent,
    ContainerFilter,
    ContainerStatus,
    ExecSyncResult,
    Image,
    ImageSpec,
    LinuxContainerResources,
    PodSandbox,
    PodSandboxConfig,
    PodSandboxFilter,
    PodSandboxStatus,
)


@runtime_checkable
class RuntimeClient(Protocol):
    """CRI v1 RuntimeService and ImageService calls, one method per RPC, snake_case."""

    def run_pod_sandbox(self, config: PodSandboxConfig, runtime_handler: str = "") -> str:
        """RunPodSandbox. :returns: the sandbox ID."""
        ...

    def stop_pod_sandbox(self, sandbox_id: str) -> None:
        """StopPodSandbox; stopping a stopped or unknown sandbox succeeds."""
        ...

    def remove_pod_sandbox(self, sandbox_id: str) -> None:
        """RemovePodSandbox; removing an unknown sandbox succeeds."""
        ...

    def pod_sandbox_status(self, sandbox_id: str) -> PodSandboxStatus:
        """PodSandboxStatus. :raises NotFoundError:."""
        ...

    def list_pod_sandbox(self, filter: PodSandboxFilter | None = None) -> list[PodSandbox]:
        """ListPodSandbox."""
        ...

    def create_container(
        self, sandbox_id: str, config: ContainerConfig, sandbox_config: PodSandboxConfig
    ) -> str:
        """CreateContainer. :returns: the new container's ID."""
        ...

    def start_container(self, container_id: str) -> None:
        """StartContainer."""
        ...

    def stop_container(self, container_id: str, timeout: int = 0) -> None:
        """StopContainer: SIGTERM, SIGKILL after ``timeout`` seconds."""
        ...

    def remove_container(self, container_id: str) -> None:
        """RemoveContainer."""
        ...

    def list_containers(self, filter: ContainerFilter | None = None) -> list[Container]:
        """ListContainers."""
        ...

    def container_status(self, container_id: str) -> ContainerStatus:
        """ContainerStatus. :raises NotFoundError:."""
        ...

    def update_container_resources(
        self, container_id: str, resources: LinuxContainerResources
    ) -> None:
        """UpdateContainerResources. :raises UnimplementedError: the runtime cannot resize."""
        ...

    def exec_sync(self, container_id: str, cmd: Sequence[str], timeout: int = 0) -> ExecSyncResult:
        """ExecSync. :raises DeadlineExceededError: after ``timeout`` seconds."""
        ...

    def image_status(self, image: ImageSpec) -> Image | None:
        """ImageStatus: the image, or None when absent."""
        ...

    def pull_image(
        self,
        image: ImageSpec,
        auth: AuthConfig | None = None,
        sandbox_config: PodSandboxConfig | None = None,
    ) -> str:
        """PullImage. :returns: the image reference now present."""
        ...


class ContainerEventSource(Protocol):
    """A client that can also stream GetContainerEvents (optional in the CRI)."""

    def container_events(self) -> Iterator[ContainerEvent]:
        """Container lifecycle events until the stream ends."""
        ...
