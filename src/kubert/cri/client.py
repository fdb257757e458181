"""The kubelet's side of CRI: a typed client that speaks kubert models over a gRPC channel.

gRPC status codes come back as the matching kubert errors (NOT_FOUND -> NotFoundError, ...),
with the server's message, so code on the kubelet side handles the same errors as the core.

Usage::

    with CriClient.connect("unix:///run/kubert/kubert.sock", timeout=10) as cri:
        sandbox_id = cri.run_pod_sandbox(config)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message

from kubert.cri.api import pb, rpc
from kubert.cri.convert import to_model, to_proto
from kubert.cri.socket import parse_endpoint
from kubert.errors import (
    AlreadyExistsError,
    DeadlineExceededError,
    FailedPreconditionError,
    InvalidArgumentError,
    KubertError,
    NotFoundError,
    ResourceExhaustedError,
    UnavailableError,
    UnimplementedError,
)
from kubert.model import (
    AttachRequest,
    AuthConfig,
    CgroupDriver,
    Container,
    ContainerConfig,
    ContainerEvent,
    ContainerFilter,
    ContainerStats,
    ContainerStatsFilter,
    ContainerStatus,
    ExecRequest,
    ExecSyncResult,
    Image,
    ImageFilter,
    ImageFsInfo,
    ImageSpec,
    LinuxContainerResources,
    PodSandbox,
    PodSandboxConfig,
    PodSandboxFilter,
    PodSandboxStats,
    PodSandboxStatsFilter,
    PodSandboxStatus,
    PortForwardRequest,
    RuntimeHandler,
    RuntimeStatus,
    VersionInfo,
)

__all__ = ["CriClient", "error_from_rpc"]

T = TypeVar("T")

#: The kubelet's default --runtime-request-timeout.
DEFAULT_CALL_TIMEOUT = 120.0
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def _with_message(error: KubertError, message: str) -> KubertError:
    error.message = message
    error.args = (message,)
    return error


def error_from_rpc(error: grpc.RpcError, method: str, timeout: float | None) -> KubertError:
    """The kubert error for a failed call; its message is the server's."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = (error.details() if hasattr(error, "details") else None) or str(code)
    if code == grpc.StatusCode.NOT_FOUND:
        return _with_message(NotFoundError("object", ""), details)
    if code == grpc.StatusCode.ALREADY_EXISTS:
        return _with_message(AlreadyExistsError("object", ""), details)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return _with_message(InvalidArgumentError("request", None, details), details)
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        return FailedPreconditionError(details)
    if code == grpc.StatusCode.UNAVAILABLE:
        return UnavailableError("the CRI server", details)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        exceeded = DeadlineExceededError(method, timeout or 0.0)
        # grpc's own text means our deadline passed; anything else is the server's precise
        # answer (a CNI plugin or exec that timed out) and must not be replaced.
        return exceeded if details == "Deadline Exceeded" else _with_message(exceeded, details)
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return _with_message(UnimplementedError(method, "?"), details)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return ResourceExhaustedError(details)
    return KubertError(f"{method} failed: {code.name}: {details}")


class CriClient:
    """A CRI v1 client over ``channel``; every method takes and returns kubert models.

    :param call_timeout: per-call deadline in seconds (None: no deadline).
    """

    def __init__(self, channel: grpc.Channel, *, call_timeout: float | None = DEFAULT_CALL_TIMEOUT):
        self.channel = channel
        self.call_timeout = call_timeout
        self._runtime = rpc.RuntimeServiceStub(channel)  # type: ignore[no-untyped-call]
        self._images = rpc.ImageServiceStub(channel)  # type: ignore[no-untyped-call]

    @classmethod
    def connect(
        cls,
        address: str,
        *,
        timeout: float = 10.0,
        call_timeout: float | None = DEFAULT_CALL_TIMEOUT,
    ) -> CriClient:
        """Open a channel to ``address`` (``unix:///…`` or a path) and wait until it is ready.

        :raises UnavailableError: nothing answers there within ``timeout`` seconds.
        """
        endpoint = parse_endpoint(address, "address")
        channel = grpc.insecure_channel(
            endpoint.grpc_target,
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ],
        )
        client = cls(channel, call_timeout=call_timeout)
        try:
            client.wait_ready(timeout)
        except BaseException:
            channel.close()
            raise
        return client

    def wait_ready(self, timeout: float) -> None:
        """Block until the channel is connected. :raises UnavailableError: not within timeout."""
        try:
            grpc.channel_ready_future(self.channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise UnavailableError(
                "the CRI server", f"no answer within {timeout:g}s on the channel"
            ) from None

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> CriClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- plumbing ----------------------------------------------------------------------

    def _call(self, stub: Any, method: str, request: Message) -> Any:
        try:
            return getattr(stub, method)(request, timeout=self.call_timeout)
        except grpc.RpcError as error:
            raise error_from_rpc(error, method, self.call_timeout) from None

    def _runtime_call(self, method: str, request: Message) -> Any:
        return self._call(self._runtime, method, request)

    def _image_call(self, method: str, request: Message) -> Any:
        return self._call(self._images, method, request)

    @staticmethod
    def _models(items: Sequence[Message], cls: type[T], field: str) -> list[T]:
        return [to_model(item, cls, f"{field}[{i}]") for i, item in enumerate(items)]

    # ---- runtime-wide ------------------------------------------------------------------

    def version(self) -> VersionInfo:
        response = self._runtime_call("Version", pb.VersionRequest(version="v1"))
        return to_model(response, VersionInfo)

    def status(self, verbose: bool = False) -> RuntimeStatus:
        """RuntimeReady and NetworkReady conditions."""
        response = self._runtime_call("Status", pb.StatusRequest(verbose=verbose))
        return to_model(response.status, RuntimeStatus, "status")

    def runtime_handlers(self) -> list[RuntimeHandler]:
        response = self._runtime_call("Status", pb.StatusRequest())
        return self._models(response.runtime_handlers, RuntimeHandler, "runtime_handlers")

    def update_runtime_config(self, pod_cidr: str) -> None:
        request = pb.UpdateRuntimeConfigRequest(
            runtime_config=pb.RuntimeConfig(network_config=pb.NetworkConfig(pod_cidr=pod_cidr))
        )
        self._runtime_call("UpdateRuntimeConfig", request)

    def runtime_config(self) -> CgroupDriver:
        response = self._runtime_call("RuntimeConfig", pb.RuntimeConfigRequest())
        return CgroupDriver(response.linux.cgroup_driver)

    # ---- sandboxes ---------------------------------------------------------------------

    def run_pod_sandbox(self, config: PodSandboxConfig, runtime_handler: str = "") -> str:
        """:returns: the new sandbox's ID."""
        request = pb.RunPodSandboxRequest(
            config=to_proto(config, pb.PodSandboxConfig), runtime_handler=runtime_handler
        )
        return str(self._runtime_call("RunPodSandbox", request).pod_sandbox_id)

    def stop_pod_sandbox(self, sandbox_id: str) -> None:
        self._runtime_call("StopPodSandbox", pb.StopPodSandboxRequest(pod_sandbox_id=sandbox_id))

    def remove_pod_sandbox(self, sandbox_id: str) -> None:
        self._runtime_call(
            "RemovePodSandbox", pb.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id)
        )

    def pod_sandbox_status(self, sandbox_id: str) -> PodSandboxStatus:
        response = self._runtime_call(
            "PodSandboxStatus", pb.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id)
        )
        return to_model(response.status, PodSandboxStatus, "status")

    def list_pod_sandbox(self, filter: PodSandboxFilter | None = None) -> list[PodSandbox]:
        request = pb.ListPodSandboxRequest()
        if filter is not None:
            request.filter.CopyFrom(to_proto(filter, pb.PodSandboxFilter))
        response = self._runtime_call("ListPodSandbox", request)
        return self._models(response.items, PodSandbox, "items")

    # ---- containers --------------------------------------------------------------------

    def create_container(
        self, sandbox_id: str, config: ContainerConfig, sandbox_config: PodSandboxConfig
    ) -> str:
        """:returns: the new container's ID."""
        request = pb.CreateContainerRequest(
            pod_sandbox_id=sandbox_id,
            config=to_proto(config, pb.ContainerConfig),
            sandbox_config=to_proto(sandbox_config, pb.PodSandboxConfig),
        )
        return str(self._runtime_call("CreateContainer", request).container_id)

    def start_container(self, container_id: str) -> None:
        self._runtime_call("StartContainer", pb.StartContainerRequest(container_id=container_id))

    def stop_container(self, container_id: str, timeout: int = 0) -> None:
        """Stop with ``timeout`` seconds of grace before SIGKILL."""
        self._runtime_call(
            "StopContainer", pb.StopContainerRequest(container_id=container_id, timeout=timeout)
        )

    def remove_container(self, container_id: str) -> None:
        self._runtime_call(
            "RemoveContainer", pb.RemoveContainerRequest(container_id=container_id)
        )

    def list_containers(self, filter: ContainerFilter | None = None) -> list[Container]:
        request = pb.ListContainersRequest()
        if filter is not None:
            request.filter.CopyFrom(to_proto(filter, pb.ContainerFilter))
        response = self._runtime_call("ListContainers", request)
        return self._models(response.containers, Container, "containers")

    def container_status(self, container_id: str) -> ContainerStatus:
        response = self._runtime_call(
            "ContainerStatus", pb.ContainerStatusRequest(container_id=container_id)
        )
        return to_model(response.status, ContainerStatus, "status")

    def update_container_resources(
        self, container_id: str, resources: LinuxContainerResources
    ) -> None:
        request = pb.UpdateContainerResourcesRequest(
            container_id=container_id, linux=to_proto(resources, pb.LinuxContainerResources)
        )
        self._runtime_call("UpdateContainerResources", request)

    def reopen_container_log(self, container_id: str) -> None:
        self._runtime_call(
            "ReopenContainerLog", pb.ReopenContainerLogRequest(container_id=container_id)
        )

    def exec_sync(
        self, container_id: str, cmd: Sequence[str], timeout: int = 0
    ) -> ExecSyncResult:
        """Run ``cmd`` in the container and collect its output (``timeout`` 0 = none)."""
        request = pb.ExecSyncRequest(container_id=container_id, cmd=list(cmd), timeout=timeout)
        response = self._runtime_call("ExecSync", request)
        return to_model(response, ExecSyncResult)

    # ---- streaming URLs ----------------------------------------------------------------

    def exec(self, request: ExecRequest) -> str:
        """:returns: the URL of the streaming server's Exec session."""
        return str(self._runtime_call("Exec", to_proto(request, pb.ExecRequest)).url)

    def attach(self, request: AttachRequest) -> str:
        return str(self._runtime_call("Attach", to_proto(request, pb.AttachRequest)).url)

    def port_forward(self, request: PortForwardRequest) -> str:
        return str(
            self._runtime_call("PortForward", to_proto(request, pb.PortForwardRequest)).url
        )

    # ---- stats, events, checkpoints ----------------------------------------------------

    def container_stats(self, container_id: str) -> ContainerStats:
        response = self._runtime_call(
            "ContainerStats", pb.ContainerStatsRequest(container_id=container_id)
        )
        return to_model(response.stats, ContainerStats, "stats")

    def list_container_stats(
        self, filter: ContainerStatsFilter | None = None
    ) -> list[ContainerStats]:
        request = pb.ListContainerStatsRequest()
        if filter is not None:
            request.filter.CopyFrom(to_proto(filter, pb.ContainerStatsFilter))
        response = self._runtime_call("ListContainerStats", request)
        return self._models(response.stats, ContainerStats, "stats")

    def pod_sandbox_stats(self, sandbox_id: str) -> PodSandboxStats:
        response = self._runtime_call(
            "PodSandboxStats", pb.PodSandboxStatsRequest(pod_sandbox_id=sandbox_id)
        )
        return to_model(response.stats, PodSandboxStats, "stats")

    def list_pod_sandbox_stats(
        self, filter: PodSandboxStatsFilter | None = None
    ) -> list[PodSandboxStats]:
        request = pb.ListPodSandboxStatsRequest()
        if filter is not None:
            request.filter.CopyFrom(to_proto(filter, pb.PodSandboxStatsFilter))
        response = self._runtime_call("ListPodSandboxStats", request)
        return self._models(response.stats, PodSandboxStats, "stats")

    def checkpoint_container(self, container_id: str, location: str, timeout: int = 0) -> None:
        request = pb.CheckpointContainerRequest(
            container_id=container_id, location=location, timeout=timeout
        )
        self._runtime_call("CheckpointContainer", request)

    def update_pod_sandbox_resources(
        self, sandbox_id: str, resources: LinuxContainerResources
    ) -> None:
        request = pb.UpdatePodSandboxResourcesRequest(
            pod_sandbox_id=sandbox_id, resources=to_proto(resources, pb.LinuxContainerResources)
        )
        self._runtime_call("UpdatePodSandboxResources", request)

    def container_events(self) -> Iterator[ContainerEvent]:
        """Events as they happen, until the server ends the stream; ``close()`` the iterator
        (or the client) to stop. Not bounded by ``call_timeout``."""
        stream = self._runtime.GetContainerEvents(pb.GetEventsRequest())
        try:
            for message in stream:
                yield to_model(message, ContainerEvent)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.CANCELLED:
                raise error_from_rpc(error, "GetContainerEvents", None) from None
        finally:
            stream.cancel()

    # ---- images ------------------------------------------------------------------------

    def list_images(self, filter: ImageFilter | None = None) -> list[Image]:
        request = pb.ListImagesRequest()
        if filter is not None:
            request.filter.CopyFrom(to_proto(filter, pb.ImageFilter))
        response = self._image_call("ListImages", request)
        return self._models(response.images, Image, "images")

    def image_status(self, image: ImageSpec | str) -> Image | None:
        """The image, or None when it is not present."""
        request = pb.ImageStatusRequest(image=to_proto(_spec(image), pb.ImageSpec))
        response = self._image_call("ImageStatus", request)
        if not response.HasField("image"):
            return None
        return to_model(response.image, Image, "image")

    def pull_image(
        self,
        image: ImageSpec | str,
        auth: AuthConfig | None = None,
        sandbox_config: PodSandboxConfig | None = None,
    ) -> str:
        """:returns: the image reference the runtime now has."""
        request = pb.PullImageRequest(image=to_proto(_spec(image), pb.ImageSpec))
        if auth is not None:
            request.auth.CopyFrom(to_proto(auth, pb.AuthConfig))
        if sandbox_config is not None:
            request.sandbox_config.CopyFrom(to_proto(sandbox_config, pb.PodSandboxConfig))
        return str(self._image_call("PullImage", request).image_ref)

    def remove_image(self, image: ImageSpec | str) -> None:
        request = pb.RemoveImageRequest(image=to_proto(_spec(image), pb.ImageSpec))
        self._image_call("RemoveImage", request)

    def image_fs_info(self) -> ImageFsInfo:
        response = self._image_call("ImageFsInfo", pb.ImageFsInfoRequest())
        return to_model(response, ImageFsInfo)


def _spec(image: ImageSpec | str) -> ImageSpec:
    return ImageSpec(image=image) if isinstance(image, str) else image

