"""The CRI v1 gRPC server: protobuf in, models to the core, protobuf out.

Every one of the 35 RPCs converts its request to its request model in one place
(:meth:`CriServicer._serve`, with :func:`kubert.cri.convert.to_model`; the validators of
:mod:`kubert.model.requests` refuse bad fields with INVALID_ARGUMENT naming them, so no field
is checked here), passes the service's arguments through the ``kubert_cri_call`` hook to
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
from pathlib import Path
from typing import Any

import attrs
import grpc
from google.protobuf.message import Message

from kubert import model as models  # the request models: models.RunPodSandboxRequest …
from kubert.cri import lists
from kubert.cri import socket as cri_socket
from kubert.cri.activation import SocketRelay, relay_for
from kubert.cri.api import add_servicers, pb, rpc
from kubert.cri.convert import fill_proto, to_model, to_proto
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

#: The kubelet's own limit for CRI messages (16 MiB), both ways.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def status_code_for(error: KubertError) -> grpc.StatusCode:
    """The gRPC status code that answers ``error``."""
    for cls, code in _STATUS_CODES:
        if isinstance(error, cls):
            return code
    return grpc.StatusCode.UNKNOWN


def _fields(request: Any) -> dict[str, Any]:
    """A request model's fields as the service method's keyword arguments."""
    return {a.name: getattr(request, a.name) for a in attrs.fields(type(request))}


def _sandbox_id(request: Any) -> dict[str, Any]:
    return {"sandbox_id": request.pod_sandbox_id}


def _whole(request: Any) -> dict[str, Any]:
    """The streaming requests reach the service (and the runtime backend) whole."""
    return {"request": request}


#: The longest error text sent as a status: gRPC carries the text in a header, and a client
#: drops a reply whose headers pass its limit (8 KiB by default), so the caller would see
#: "Stream removed" instead of the error. The head names the field; the log keeps it whole.
MAX_DETAILS = 2048


def bounded_details(message: str) -> str:
    """``message`` as the status text: whole when short, else its head and how long it was."""
    if len(message) <= MAX_DETAILS:
        return message
    return f"{message[:MAX_DETAILS]}… (cut; {len(message)} characters in all)"


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
        request: Message,
        model: type[Any],
        perform: Callable[..., Any],
        reply: Callable[[Any], Message | bytes],
        args: Callable[[Any], dict[str, Any]] | None = None,
    ) -> Message | bytes:
        """Convert ``request`` to ``model`` (its validators refuse bad fields), hand the
        service's keyword arguments (``args`` of the model; by default its fields) through
        the hook to ``perform``, and convert the answer with ``reply``."""
        try:
            parsed = to_model(request, model, in_order=True)
            kwargs = _fields(parsed) if args is None else args(parsed)
            result = self.hook(method=method, request=kwargs, call=lambda r: perform(**r))
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
        context.abort(code, bounded_details(error.message))

    # ---- RuntimeService: runtime-wide --------------------------------------------------

    def Version(self, request: pb.VersionRequest, context: grpc.ServicerContext) -> Message:
        return self._serve(
            "Version", context, request, models.VersionRequest, self.service.version,
            lambda info: to_proto(info, pb.VersionResponse),
        )

    def Status(self, request: pb.StatusRequest, context: grpc.ServicerContext) -> Message:
        return self._serve(
            "Status", context, request, models.StatusRequest, self.service.status,
            lambda answer: to_proto(answer, pb.StatusResponse),
        )

    def UpdateRuntimeConfig(
        self, request: pb.UpdateRuntimeConfigRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "UpdateRuntimeConfig", context, request, models.UpdateRuntimeConfigRequest,
            self.service.update_runtime_config, lambda _: pb.UpdateRuntimeConfigResponse(),
            lambda r: {"pod_cidr": r.runtime_config.network_config.pod_cidr},
        )

    def RuntimeConfig(
        self, request: pb.RuntimeConfigRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "RuntimeConfig", context, request, models.RuntimeConfigRequest,
            self.service.runtime_config,
            lambda driver: pb.RuntimeConfigResponse(
                linux=pb.LinuxRuntimeConfiguration(cgroup_driver=pb.CgroupDriver.Value(driver.name))
            ),
        )

    # ---- RuntimeService: sandboxes -----------------------------------------------------

    def RunPodSandbox(
        self, request: pb.RunPodSandboxRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "RunPodSandbox", context, request, models.RunPodSandboxRequest,
            self.service.run_pod_sandbox,
            lambda sandbox_id: pb.RunPodSandboxResponse(pod_sandbox_id=sandbox_id),
        )

    def StopPodSandbox(
        self, request: pb.StopPodSandboxRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "StopPodSandbox", context, request, models.StopPodSandboxRequest,
            self.service.stop_pod_sandbox, lambda _: pb.StopPodSandboxResponse(), _sandbox_id,
        )

    def RemovePodSandbox(
        self, request: pb.RemovePodSandboxRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "RemovePodSandbox", context, request, models.RemovePodSandboxRequest,
            self.service.remove_pod_sandbox, lambda _: pb.RemovePodSandboxResponse(), _sandbox_id,
        )

    def PodSandboxStatus(
        self, request: pb.PodSandboxStatusRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "PodSandboxStatus", context, request, models.PodSandboxStatusRequest,
            self.service.pod_sandbox_status,
            lambda answer: to_proto(answer, pb.PodSandboxStatusResponse),
            lambda r: {"sandbox_id": r.pod_sandbox_id, "verbose": r.verbose},
        )

    def ListPodSandbox(
        self, request: pb.ListPodSandboxRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "ListPodSandbox", context, request, models.ListPodSandboxRequest,
            self.service.list_pod_sandbox,
            # Serialized already: sent as they are.
            lambda items: lists.pod_sandbox_list_bytes(items, lists.unfiltered(request)),
        )

    # ---- RuntimeService: containers ----------------------------------------------------

    def CreateContainer(
        self, request: pb.CreateContainerRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "CreateContainer", context, request, models.CreateContainerRequest,
            self.service.create_container,
            lambda container_id: pb.CreateContainerResponse(container_id=container_id),
        )

    def StartContainer(
        self, request: pb.StartContainerRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "StartContainer", context, request, models.StartContainerRequest,
            self.service.start_container, lambda _: pb.StartContainerResponse(),
        )

    def StopContainer(
        self, request: pb.StopContainerRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "StopContainer", context, request, models.StopContainerRequest,
            self.service.stop_container, lambda _: pb.StopContainerResponse(),
        )

    def RemoveContainer(
        self, request: pb.RemoveContainerRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "RemoveContainer", context, request, models.RemoveContainerRequest,
            self.service.remove_container, lambda _: pb.RemoveContainerResponse(),
        )

    def ListContainers(
        self, request: pb.ListContainersRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "ListContainers", context, request, models.ListContainersRequest,
            self.service.list_containers,
            # Serialized already: sent as they are.
            lambda items: lists.container_list_bytes(items, lists.unfiltered(request)),
        )

    def ContainerStatus(
        self, request: pb.ContainerStatusRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "ContainerStatus", context, request, models.ContainerStatusRequest,
            self.service.container_status,
            lambda answer: to_proto(answer, pb.ContainerStatusResponse),
        )

    def UpdateContainerResources(
        self, request: pb.UpdateContainerResourcesRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "UpdateContainerResources", context, request, models.UpdateContainerResourcesRequest,
            self.service.update_container_resources,
            lambda _: pb.UpdateContainerResourcesResponse(),
            lambda r: {"container_id": r.container_id, "resources": r.linux},
        )

    def ReopenContainerLog(
        self, request: pb.ReopenContainerLogRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "ReopenContainerLog", context, request, models.ReopenContainerLogRequest,
            self.service.reopen_container_log, lambda _: pb.ReopenContainerLogResponse(),
        )

    def ExecSync(self, request: pb.ExecSyncRequest, context: grpc.ServicerContext) -> Message:
        return self._serve(
            "ExecSync", context, request, models.ExecSyncRequest, self.service.exec_sync,
            lambda result: to_proto(result, pb.ExecSyncResponse),
        )

    # ---- RuntimeService: streaming URLs (Exec, Attach, PortForward) --------------------

    def Exec(self, request: pb.ExecRequest, context: grpc.ServicerContext) -> Message:
        return self._serve(
            "Exec", context, request, models.ExecRequest, self.service.exec,
            lambda url: pb.ExecResponse(url=url), _whole,
        )

    def Attach(self, request: pb.AttachRequest, context: grpc.ServicerContext) -> Message:
        return self._serve(
            "Attach", context, request, models.AttachRequest, self.service.attach,
            lambda url: pb.AttachResponse(url=url), _whole,
        )

    def PortForward(
        self, request: pb.PortForwardRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "PortForward", context, request, models.PortForwardRequest, self.service.port_forward,
            lambda url: pb.PortForwardResponse(url=url), _whole,
        )

    # ---- RuntimeService: stats, events, checkpoints, metrics ---------------------------

    def ContainerStats(
        self, request: pb.ContainerStatsRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "ContainerStats", context, request, models.ContainerStatsRequest,
            self.service.container_stats,
            lambda stats: pb.ContainerStatsResponse(stats=to_proto(stats, pb.ContainerStats)),
        )

    def ListContainerStats(
        self, request: pb.ListContainerStatsRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "ListContainerStats", context, request, models.ListContainerStatsRequest,
            self.service.list_container_stats,
            lambda items: _repeated(pb.ListContainerStatsResponse(), "stats", items),
        )

    def PodSandboxStats(
        self, request: pb.PodSandboxStatsRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "PodSandboxStats", context, request, models.PodSandboxStatsRequest,
            self.service.pod_sandbox_stats,
            lambda stats: pb.PodSandboxStatsResponse(stats=to_proto(stats, pb.PodSandboxStats)),
        )

    def ListPodSandboxStats(
        self, request: pb.ListPodSandboxStatsRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "ListPodSandboxStats", context, request, models.ListPodSandboxStatsRequest,
            self.service.list_pod_sandbox_stats,
            lambda items: _repeated(pb.ListPodSandboxStatsResponse(), "stats", items),
        )

    def CheckpointContainer(
        self, request: pb.CheckpointContainerRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "CheckpointContainer", context, request, models.CheckpointContainerRequest,
            self.service.checkpoint_container, lambda _: pb.CheckpointContainerResponse(),
        )

    def GetContainerEvents(
        self, request: pb.GetEventsRequest, context: grpc.ServicerContext
    ) -> Iterator[Message]:
        method = "GetContainerEvents"
        try:
            kwargs = _fields(to_model(request, models.GetEventsRequest, in_order=True))
            events = self.hook(
                method=method, request=kwargs,
                call=lambda r: self.service.container_events(**r),
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
            "ListMetricDescriptors", context, request, models.ListMetricDescriptorsRequest,
            self.service.list_metric_descriptors,
            lambda items: _repeated(pb.ListMetricDescriptorsResponse(), "descriptors", items),
        )

    def ListPodSandboxMetrics(
        self, request: pb.ListPodSandboxMetricsRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "ListPodSandboxMetrics", context, request, models.ListPodSandboxMetricsRequest,
            self.service.list_pod_sandbox_metrics,
            lambda items: _repeated(pb.ListPodSandboxMetricsResponse(), "pod_metrics", items),
        )

    def UpdatePodSandboxResources(
        self, request: pb.UpdatePodSandboxResourcesRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "UpdatePodSandboxResources", context, request, models.UpdatePodSandboxResourcesRequest,
            self.service.update_pod_sandbox_resources,
            lambda _: pb.UpdatePodSandboxResourcesResponse(),
        )

    # ---- ImageService ------------------------------------------------------------------

    def ListImages(self, request: pb.ListImagesRequest, context: grpc.ServicerContext) -> Message:
        return self._serve(
            "ListImages", context, request, models.ListImagesRequest, self.service.list_images,
            lambda images: _repeated(pb.ListImagesResponse(), "images", images),
        )

    def ImageStatus(
        self, request: pb.ImageStatusRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "ImageStatus", context, request, models.ImageStatusRequest, self.service.image_status,
            lambda answer: to_proto(answer, pb.ImageStatusResponse),
        )

    def PullImage(self, request: pb.PullImageRequest, context: grpc.ServicerContext) -> Message:
        return self._serve(
            "PullImage", context, request, models.PullImageRequest, self.service.pull_image,
            lambda ref: pb.PullImageResponse(image_ref=ref),
        )

    def RemoveImage(
        self, request: pb.RemoveImageRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "RemoveImage", context, request, models.RemoveImageRequest, self.service.remove_image,
            lambda _: pb.RemoveImageResponse(),
        )

    def ImageFsInfo(
        self, request: pb.ImageFsInfoRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve(
            "ImageFsInfo", context, request, models.ImageFsInfoRequest, self.service.image_fs_info,
            lambda info: to_proto(info, pb.ImageFsInfoResponse),
        )


class CriServer:
    """The gRPC server on its socket: start, then stop (draining in-flight calls).

    :param endpoint: where to listen (see :func:`kubert.cri.socket.parse_endpoint`).
    :param socket_group: group owning the unix socket (mode 0660), or None to keep ours.
    :param max_workers: calls served at once. Most of a call is waiting on the engine, and a
        kubelet syncs its pods concurrently: with 50 pods starting at once, 32 workers queued
        CreateContainer calls behind slow starts and stops (its median 0.6-0.9 s against 0.2 s
        with 128). The pool's threads are made as calls need them, so an idle server holds few.
    """

    def __init__(
        self,
        service: KubertService,
        hook: CallHook,
        endpoint: cri_socket.Endpoint,
        *,
        socket_group: str | int | None = None,
        max_workers: int = 128,
    ) -> None:
        self.service = service
        self.endpoint = endpoint
        self.socket_group = socket_group
        self._inode: int | None = None
        self._socket_path: Path | None = None
        self._relay: SocketRelay | None = None
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
        """Bind (after clearing a stale socket), secure the socket, start serving.

        For ``fd://`` the server binds a private socket and a relay serves the passed one.
        """
        endpoint = self.endpoint
        if endpoint.scheme == "fd":
            self._relay = relay_for(endpoint.fd_name)
            endpoint = cri_socket.Endpoint("unix", path=self._relay.upstream)
        try:
            self._bind(endpoint)
        except BaseException:
            if self._relay is not None:
                self._relay.close()
            raise
        self.server.start()
        if self._relay is not None:
            self._relay.start()
            log.info("kubert CRI server listening on %s (%s)", self.endpoint, self._relay.address)
        else:
            log.info("kubert CRI server listening on %s", self.endpoint)

    def _bind(self, endpoint: cri_socket.Endpoint) -> None:
        if endpoint.scheme == "unix":
            assert endpoint.path is not None
            cri_socket.prepare_unix_socket(endpoint.path)
        # Until secure_socket sets 0660, the socket has the mode the umask leaves: keep others
        # out from the start (a umask of 0 would let anyone connect in that window).
        umask = os.umask(0o007) if endpoint.scheme == "unix" else None
        try:
            port = self.server.add_insecure_port(endpoint.grpc_target)
        except RuntimeError as error:
            raise FailedPreconditionError(f"cannot listen on {endpoint}: {error}") from None
        finally:
            if umask is not None:
                os.umask(umask)
        if endpoint.scheme == "tcp" and port == 0:
            raise FailedPreconditionError(f"cannot listen on {endpoint}")
        if endpoint.scheme == "unix":
            assert endpoint.path is not None
            self._socket_path = endpoint.path
            # The passed socket's owner and mode are the socket unit's; the private one stays
            # as the relay's 0700 directory guards it.
            group = self.socket_group if self._relay is None else None
            self._inode = cri_socket.secure_socket(endpoint.path, group)

    def stop(self, grace: float = 10.0) -> None:
        """Refuse new calls, let in-flight ones finish for ``grace`` s, remove the socket.

        A socket systemd passed stays open and in place: the next instance serves it.
        """
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self._relay is not None:
            self._relay.stop_accepting()
        self.servicer.close_streams()
        self.server.stop(grace).wait()
        if self._relay is not None:
            self._relay.close()
        elif self._socket_path is not None and self._inode is not None:
            cri_socket.remove_socket(self._socket_path, self._inode)

    def wait(self) -> None:
        self.server.wait_for_termination()
