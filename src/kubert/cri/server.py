"""The CRI v1 gRPC server: protobuf in, models to the core, protobuf out.

Every one of the 35 RPCs converts its request to models (refusing bad fields with
INVALID_ARGUMENT naming them), passes them through the ``kubert_cri_call`` hook to
:class:`~kubert.service.KubertService`, and converts the answer back. This module is the only
place where kubert errors become gRPC status codes; anything unexpected is logged with its
traceback and answered INTERNAL, and the server keeps serving.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
from google.protobuf.message import Message

from kubert.cri import lists
from kubert.cri import socket as cri_socket
from kubert.cri.api import add_servicers, pb, rpc
from kubert.cri.convert import fill_proto, message_field, to_model, to_proto
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
    ContainerConfig,
    ContainerFilter,
    ContainerStatsFilter,
    ExecRequest,
    ImageFilter,
    ImageSpec,
    LinuxContainerResources,
    PodSandboxConfig,
    PodSandboxFilter,
    PodSandboxStatsFilter,
    PortForwardRequest,
)
from kubert.model.validate import MAX_LIST, MAX_STRING, check_id
from kubert.service import KubertService

log = logging.getLogger(__name__)

__all__ = ["CallHook", "CriServer", "CriServicer", "status_code_for"]

#: ``pm.hook.kubert_cri_call``: called with method=, request=, call=.
CallHook = Callable[..., Any]

#: Most specific first: the first class an error is an instance of decides its code.
_STATUS_CODES: tuple[tuple[type[KubertError], grpc.StatusCode], ...] = (
    (NotFoundError, grpc.StatusCode.NOT_FOUND),
    (AlreadyExistsError, grpc.StatusCode.ALREADY_EXISTS),
    (InvalidArgumentError, grpc.StatusCode.INVALID_ARGUMENT),
    (FailedPreconditionError, grpc.StatusCode.FAILED_PRECONDITION),
    (UnavailableError, grpc.StatusCode.UNAVAILABLE),
    (DeadlineExceededError, grpc.StatusCode.DEADLINE_EXCEEDED),
    (UnimplementedError, grpc.StatusCode.UNIMPLEMENTED),
    (ResourceExhaustedError, grpc.StatusCode.RESOURCE_EXHAUSTED),
)

#: Largest timeout (seconds) a request may carry; beyond it the value is surely a mistake.
MAX_TIMEOUT = 2**31 - 1
#: The kubelet's own limit for CRI messages (16 MiB), both ways.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def status_code_for(error: KubertError) -> grpc.StatusCode:
    """The gRPC status code that answers ``error``."""
    for cls, code in _STATUS_CODES:
        if isinstance(error, cls):
            return code
    return grpc.StatusCode.UNKNOWN


def _id(request: Message, name: str) -> str:
    value: str = getattr(request, name)
    check_id(name, value)
    return value


def _timeout(request: Message, name: str = "timeout") -> int:
    value: int = getattr(request, name)
    if not 0 <= value <= MAX_TIMEOUT:
        raise InvalidArgumentError(name, value, f"must be between 0 and {MAX_TIMEOUT} seconds")
    return value


def _strings(request: Message, name: str) -> tuple[str, ...]:
    values: tuple[str, ...] = tuple(getattr(request, name))
    if len(values) > MAX_LIST:
        raise InvalidArgumentError(name, len(values), f"has more than {MAX_LIST} items")
    for index, value in enumerate(values):
        if len(value) > MAX_STRING or "\x00" in value:
            raise InvalidArgumentError(
                f"{name}[{index}]", value[:40], f"must be at most {MAX_STRING} characters, no NUL"
            )
    return values


def _internal_message(method: str, error: Exception) -> str:
    """A short INTERNAL answer: the exception type and kubert's own notes, not its text or
    traceback (those go to the server log)."""
    notes = "; ".join(getattr(error, "__notes__", ()))
    where = f" ({notes})" if notes else ""
    return (
        f"{method}: internal error in kubert: {type(error).__name__}{where}; "
        "the server log has the details"
    )


def _repeated(response: Message, name: str, items: Any) -> Message:
    target = getattr(response, name)
    for item in items:
        fill_proto(item, target.add())
    return response


_END = object()
#: How often an idle event stream checks whether its client is still there.
_EVENT_POLL_SECONDS = 0.5


def _until_inactive(
    events: Iterator[Any], context: grpc.ServicerContext, closing: threading.Event
) -> Iterator[Any]:
    """``events``, ending as soon as the client goes away or the server stops.

    The backend's iterator blocks until its next event, so a pump thread reads it and this
    generator waits on a queue with a timeout, checking the client and the server in between.
    """
    inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def pump() -> None:
        try:
            for event in events:
                inbox.put(event)
                if closing.is_set() or not context.is_active():
                    break
        except BaseException as error:  # handed to the RPC thread, which reports it
            inbox.put(error)
        finally:
            inbox.put(_END)

    threading.Thread(target=pump, name="cri-events", daemon=True).start()
    while not closing.is_set() and context.is_active():
        try:
            item = inbox.get(timeout=_EVENT_POLL_SECONDS)
        except queue.Empty:
            continue
        if item is _END:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


class CriServicer(rpc.RuntimeServiceServicer, rpc.ImageServiceServicer):
    """Both CRI services over one :class:`KubertService`, every call through ``hook``."""

    def __init__(self, service: KubertService, hook: CallHook) -> None:
        self.service = service
        self.hook = hook
        #: Set when the server stops, so that event streams end instead of holding it open.
        self._closing = threading.Event()

    def close_streams(self) -> None:
        self._closing.set()

    # ---- the one path every unary call takes -------------------------------------------

    def _serve(
        self,
        method: str,
        context: grpc.ServicerContext,
        parse: Callable[[], dict[str, Any]],
        perform: Callable[..., Any],
        reply: Callable[[Any], Message],
    ) -> Message:
        try:
            request = parse()
            result = self.hook(method=method, request=request, call=lambda r: perform(**r))
            return reply(result)
        except KubertError as error:
            self._abort(context, method, error)
        except Exception as error:
            log.exception("%s failed unexpectedly", method)
            context.abort(grpc.StatusCode.INTERNAL, _internal_message(method, error))
        raise AssertionError("unreachable: context.abort raises")  # pragma: no cover

    @staticmethod
    def _abort(context: grpc.ServicerContext, method: str, error: KubertError) -> None:
        code = status_code_for(error)
        if code in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNAVAILABLE):
            log.warning("%s: %s", method, error.message)
        else:
            log.debug("%s: %s", method, error.message)
        context.abort(code, error.message)

    # ---- RuntimeService: runtime-wide --------------------------------------------------

    def Version(self, request: pb.VersionRequest, context: grpc.ServicerContext) -> Message:
        return self._serve(
            "Version", context, dict, self.service.version,
            lambda info: to_proto(info, pb.VersionResponse),
        )

    def Status(self, request: pb.StatusRequest, context: grpc.ServicerContext) -> Message:
        return self._serve(
            "Status", context, lambda: {"verbose": request.verbose}, self.service.status,
            lambda answer: to_proto(answer, pb.StatusResponse),
        )

    def UpdateRuntimeConfig(
        self, request: pb.UpdateRuntimeConfigRequest, context: grpc.ServicerContext
    ) -> Message:
        def parse() -> dict[str, Any]:
            cidr = request.runtime_config.network_config.pod_cidr
            if len(cidr) > 4096 or "\x00" in cidr:
                raise InvalidArgumentError(
                    "runtime_config.network_config.pod_cidr", cidr[:40], "is not a CIDR list"
                )
            return {"pod_cidr": cidr}

        return self._serve(
            "UpdateRuntimeConfig", context, parse, self.service.update_runtime_config,
            lambda _: pb.UpdateRuntimeConfigResponse(),
        )

    def RuntimeConfig(
        self, request: pb.RuntimeConfigRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "RuntimeConfig", context, dict, self.service.runtime_config,
            lambda driver: pb.RuntimeConfigResponse(
                linux=pb.LinuxRuntimeConfiguration(cgroup_driver=pb.CgroupDriver.Value(driver.name))
            ),
        )

    # ---- RuntimeService: sandboxes -----------------------------------------------------

    def RunPodSandbox(
        self, request: pb.RunPodSandboxRequest, context: grpc.ServicerContext
    ) -> Message:
        def parse() -> dict[str, Any]:
            handler = request.runtime_handler
            if len(handler) > 256 or "\x00" in handler:
                raise InvalidArgumentError("runtime_handler", handler[:40], "is not a handler name")
            return {
                "config": message_field(request, "config", PodSandboxConfig),
                "runtime_handler": handler,
            }

        return self._serve(
            "RunPodSandbox", context, parse, self.service.run_pod_sandbox,
            lambda sandbox_id: pb.RunPodSandboxResponse(pod_sandbox_id=sandbox_id),
        )

    def StopPodSandbox(
        self, request: pb.StopPodSandboxRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "StopPodSandbox", context,
            lambda: {"sandbox_id": _id(request, "pod_sandbox_id")},
            self.service.stop_pod_sandbox, lambda _: pb.StopPodSandboxResponse(),
        )

    def RemovePodSandbox(
        self, request: pb.RemovePodSandboxRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "RemovePodSandbox", context,
            lambda: {"sandbox_id": _id(request, "pod_sandbox_id")},
            self.service.remove_pod_sandbox, lambda _: pb.RemovePodSandboxResponse(),
        )

    def PodSandboxStatus(
        self, request: pb.PodSandboxStatusRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "PodSandboxStatus", context,
            lambda: {"sandbox_id": _id(request, "pod_sandbox_id"), "verbose": request.verbose},
            self.service.pod_sandbox_status,
            lambda answer: to_proto(answer, pb.PodSandboxStatusResponse),
        )

    def ListPodSandbox(
        self, request: pb.ListPodSandboxRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "ListPodSandbox", context,
            lambda: {"filter": message_field(request, "filter", PodSandboxFilter, required=False)},
            self.service.list_pod_sandbox,
            lists.pod_sandbox_list,
        )

    # ---- RuntimeService: containers ----------------------------------------------------

    def CreateContainer(
        self, request: pb.CreateContainerRequest, context: grpc.ServicerContext
    ) -> Message:
        def parse() -> dict[str, Any]:
            return {
                "pod_sandbox_id": _id(request, "pod_sandbox_id"),
                "config": message_field(request, "config", ContainerConfig),
                "sandbox_config": message_field(request, "sandbox_config", PodSandboxConfig),
            }

        return self._serve(
            "CreateContainer", context, parse, self.service.create_container,
            lambda container_id: pb.CreateContainerResponse(container_id=container_id),
        )

    def StartContainer(
        self, request: pb.StartContainerRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "StartContainer", context,
            lambda: {"container_id": _id(request, "container_id")},
            self.service.start_container, lambda _: pb.StartContainerResponse(),
        )

    def StopContainer(
        self, request: pb.StopContainerRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "StopContainer", context,
            lambda: {"container_id": _id(request, "container_id"), "timeout": _timeout(request)},
            self.service.stop_container, lambda _: pb.StopContainerResponse(),
        )

    def RemoveContainer(
        self, request: pb.RemoveContainerRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "RemoveContainer", context,
            lambda: {"container_id": _id(request, "container_id")},
            self.service.remove_container, lambda _: pb.RemoveContainerResponse(),
        )

    def ListContainers(
        self, request: pb.ListContainersRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "ListContainers", context,
            lambda: {"filter": message_field(request, "filter", ContainerFilter, required=False)},
            self.service.list_containers,
            lists.container_list,
        )

    def ContainerStatus(
        self, request: pb.ContainerStatusRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "ContainerStatus", context,
            lambda: {"container_id": _id(request, "container_id"), "verbose": request.verbose},
            self.service.container_status,
            lambda answer: to_proto(answer, pb.ContainerStatusResponse),
        )

    def UpdateContainerResources(
        self, request: pb.UpdateContainerResourcesRequest, context: grpc.ServicerContext
    ) -> Message:
        def parse() -> dict[str, Any]:
            return {
                "container_id": _id(request, "container_id"),
                "resources": message_field(request, "linux", LinuxContainerResources),
            }

        return self._serve(
            "UpdateContainerResources", context, parse,
            self.service.update_container_resources,
            lambda _: pb.UpdateContainerResourcesResponse(),
        )

    def ReopenContainerLog(
        self, request: pb.ReopenContainerLogRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "ReopenContainerLog", context,
            lambda: {"container_id": _id(request, "container_id")},
            self.service.reopen_container_log, lambda _: pb.ReopenContainerLogResponse(),
        )

    def ExecSync(self, request: pb.ExecSyncRequest, context: grpc.ServicerContext) -> Message:
        def parse() -> dict[str, Any]:
            cmd = _strings(request, "cmd")
            if not cmd:
                raise InvalidArgumentError("cmd", cmd, "must name a command to run")
            return {
                "container_id": _id(request, "container_id"),
                "cmd": cmd,
                "timeout": _timeout(request),
            }

        return self._serve(
            "ExecSync", context, parse, self.service.exec_sync,
            lambda result: to_proto(result, pb.ExecSyncResponse),
        )

    # ---- RuntimeService: streaming URLs (Exec, Attach, PortForward) --------------------

    def Exec(self, request: pb.ExecRequest, context: grpc.ServicerContext) -> Message:
        return self._serve(
            "Exec", context, lambda: {"request": to_model(request, ExecRequest)},
            self.service.exec, lambda url: pb.ExecResponse(url=url),
        )

    def Attach(self, request: pb.AttachRequest, context: grpc.ServicerContext) -> Message:
        return self._serve(
            "Attach", context, lambda: {"request": to_model(request, AttachRequest)},
            self.service.attach, lambda url: pb.AttachResponse(url=url),
        )

    def PortForward(
        self, request: pb.PortForwardRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "PortForward", context, lambda: {"request": to_model(request, PortForwardRequest)},
            self.service.port_forward, lambda url: pb.PortForwardResponse(url=url),
        )

    # ---- RuntimeService: stats, events, checkpoints, metrics ---------------------------

    def ContainerStats(
        self, request: pb.ContainerStatsRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "ContainerStats", context,
            lambda: {"container_id": _id(request, "container_id")},
            self.service.container_stats,
            lambda stats: pb.ContainerStatsResponse(stats=to_proto(stats, pb.ContainerStats)),
        )

    def ListContainerStats(
        self, request: pb.ListContainerStatsRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "ListContainerStats", context,
            lambda: {
                "filter": message_field(request, "filter", ContainerStatsFilter, required=False)
            },
            self.service.list_container_stats,
            lambda items: _repeated(pb.ListContainerStatsResponse(), "stats", items),
        )

    def PodSandboxStats(
        self, request: pb.PodSandboxStatsRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "PodSandboxStats", context,
            lambda: {"pod_sandbox_id": _id(request, "pod_sandbox_id")},
            self.service.pod_sandbox_stats,
            lambda stats: pb.PodSandboxStatsResponse(stats=to_proto(stats, pb.PodSandboxStats)),
        )

    def ListPodSandboxStats(
        self, request: pb.ListPodSandboxStatsRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "ListPodSandboxStats", context,
            lambda: {
                "filter": message_field(request, "filter", PodSandboxStatsFilter, required=False)
            },
            self.service.list_pod_sandbox_stats,
            lambda items: _repeated(pb.ListPodSandboxStatsResponse(), "stats", items),
        )

    def CheckpointContainer(
        self, request: pb.CheckpointContainerRequest, context: grpc.ServicerContext
    ) -> Message:
        def parse() -> dict[str, Any]:
            location = request.location
            if not location or len(location) > 4096 or "\x00" in location:
                raise InvalidArgumentError(
                    "location", location[:40], "must be a path of at most 4096 characters"
                )
            return {
                "container_id": _id(request, "container_id"),
                "location": location,
                "timeout": _timeout(request),
            }

        return self._serve(
            "CheckpointContainer", context, parse, self.service.checkpoint_container,
            lambda _: pb.CheckpointContainerResponse(),
        )

    def GetContainerEvents(
        self, request: pb.GetEventsRequest, context: grpc.ServicerContext
    ) -> Iterator[Message]:
        method = "GetContainerEvents"
        try:
            events = self.hook(
                method=method, request={}, call=lambda _: self.service.container_events()
            )
            for event in _until_inactive(events, context, self._closing):
                yield to_proto(event, pb.ContainerEventResponse)
        except KubertError as error:
            self._abort(context, method, error)
        except Exception as error:
            log.exception("%s failed unexpectedly", method)
            context.abort(grpc.StatusCode.INTERNAL, _internal_message(method, error))

    def ListMetricDescriptors(
        self, request: pb.ListMetricDescriptorsRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "ListMetricDescriptors", context, dict, self.service.list_metric_descriptors,
            lambda items: _repeated(pb.ListMetricDescriptorsResponse(), "descriptors", items),
        )

    def ListPodSandboxMetrics(
        self, request: pb.ListPodSandboxMetricsRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "ListPodSandboxMetrics", context, dict, self.service.list_pod_sandbox_metrics,
            lambda items: _repeated(pb.ListPodSandboxMetricsResponse(), "pod_metrics", items),
        )

    def UpdatePodSandboxResources(
        self, request: pb.UpdatePodSandboxResourcesRequest, context: grpc.ServicerContext
    ) -> Message:
        def parse() -> dict[str, Any]:
            return {
                "pod_sandbox_id": _id(request, "pod_sandbox_id"),
                "resources": message_field(request, "resources", LinuxContainerResources),
            }

        return self._serve(
            "UpdatePodSandboxResources", context, parse,
            self.service.update_pod_sandbox_resources,
            lambda _: pb.UpdatePodSandboxResourcesResponse(),
        )

    # ---- ImageService ------------------------------------------------------------------

    def ListImages(self, request: pb.ListImagesRequest, context: grpc.ServicerContext) -> Message:
        return self._serve(
            "ListImages", context,
            lambda: {"filter": message_field(request, "filter", ImageFilter, required=False)},
            self.service.list_images,
            lambda images: _repeated(pb.ListImagesResponse(), "images", images),
        )

    def ImageStatus(
        self, request: pb.ImageStatusRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "ImageStatus", context,
            lambda: {
                "image": message_field(request, "image", ImageSpec), "verbose": request.verbose
            },
            self.service.image_status,
            lambda answer: to_proto(answer, pb.ImageStatusResponse),
        )

    def PullImage(self, request: pb.PullImageRequest, context: grpc.ServicerContext) -> Message:
        def parse() -> dict[str, Any]:
            image = message_field(request, "image", ImageSpec)
            if not image.image:
                raise InvalidArgumentError("image.image", image.image, "must name an image")
            return {
                "image": image,
                "auth": message_field(request, "auth", AuthConfig, required=False),
                "sandbox_config": message_field(
                    request, "sandbox_config", PodSandboxConfig, required=False
                ),
            }

        return self._serve(
            "PullImage", context, parse, self.service.pull_image,
            lambda ref: pb.PullImageResponse(image_ref=ref),
        )

    def RemoveImage(
        self, request: pb.RemoveImageRequest, context: grpc.ServicerContext
    ) -> Message:
        def parse() -> dict[str, Any]:
            image = message_field(request, "image", ImageSpec)
            if not image.image:
                raise InvalidArgumentError("image.image", image.image, "must name an image")
            return {"image": image}

        return self._serve(
            "RemoveImage", context, parse, self.service.remove_image,
            lambda _: pb.RemoveImageResponse(),
        )

    def ImageFsInfo(
        self, request: pb.ImageFsInfoRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "ImageFsInfo", context, dict, self.service.image_fs_info,
            lambda info: to_proto(info, pb.ImageFsInfoResponse),
        )


class CriServer:
    """The gRPC server on its socket: start, then stop (draining in-flight calls).

    :param endpoint: where to listen (see :func:`kubert.cri.socket.parse_endpoint`).
    :param socket_group: group owning the unix socket (mode 0660), or None to keep ours.
    """

    def __init__(
        self,
        service: KubertService,
        hook: CallHook,
        endpoint: cri_socket.Endpoint,
        *,
        socket_group: str | int | None = None,
        max_workers: int = 32,
    ) -> None:
        self.service = service
        self.endpoint = endpoint
        self.socket_group = socket_group
        self._inode: int | None = None
        self._stopped = threading.Event()
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="cri"),
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                # A second server on the same path must fail, not share it.
                ("grpc.so_reuseport", 0),
            ],
        )
        self.servicer = CriServicer(service, hook)
        add_servicers(self.servicer, self.server)

    def start(self) -> None:
        """Bind (after clearing a stale socket), secure the socket, start serving."""
        if self.endpoint.scheme == "unix":
            assert self.endpoint.path is not None
            cri_socket.prepare_unix_socket(self.endpoint.path)
        # Until secure_socket sets 0660, the socket has the mode the umask leaves: keep others
        # out from the start (a umask of 0 would let anyone connect in that window).
        umask = os.umask(0o007) if self.endpoint.scheme == "unix" else None
        try:
            port = self.server.add_insecure_port(self.endpoint.grpc_target)
        except RuntimeError as error:
            raise FailedPreconditionError(f"cannot listen on {self.endpoint}: {error}") from None
        finally:
            if umask is not None:
                os.umask(umask)
        if self.endpoint.scheme == "tcp" and port == 0:
            raise FailedPreconditionError(f"cannot listen on {self.endpoint}")
        if self.endpoint.scheme == "unix":
            assert self.endpoint.path is not None
            self._inode = cri_socket.secure_socket(self.endpoint.path, self.socket_group)
        self.server.start()
        log.info("kubert CRI server listening on %s", self.endpoint)

    def stop(self, grace: float = 10.0) -> None:
        """Refuse new calls, let in-flight ones finish for ``grace`` s, remove the socket."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.servicer.close_streams()
        self.server.stop(grace).wait()
        if self.endpoint.scheme == "unix" and self._inode is not None:
            assert self.endpoint.path is not None
            cri_socket.remove_socket(self.endpoint.path, self._inode)

    def wait(self) -> None:
        self.server.wait_for_termination()
