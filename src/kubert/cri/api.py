"""The one door to the CRI v1 protobuf bindings (PyPI ``container-runtime-interface-api``).

Everything else in kubert imports ``pb`` (messages) and ``rpc`` (stubs, servicers) from here,
so that swapping the bindings for another build of the same ``api.proto`` touches one file.
"""

from __future__ import annotations

from typing import Any

import grpc
from cri_api.v1 import api_pb2 as pb
from cri_api.v1 import api_pb2_grpc as rpc
from google.protobuf.descriptor import ServiceDescriptor

__all__ = ["IMAGE_SERVICE", "RPC_NAMES", "RUNTIME_SERVICE", "add_servicers", "pb", "rpc"]

RUNTIME_SERVICE: ServiceDescriptor = pb.DESCRIPTOR.services_by_name["RuntimeService"]
IMAGE_SERVICE: ServiceDescriptor = pb.DESCRIPTOR.services_by_name["ImageService"]

#: Every RPC of CRI v1, RuntimeService first, in the order of ``api.proto``.
RPC_NAMES: tuple[str, ...] = tuple(
    method.name for service in (RUNTIME_SERVICE, IMAGE_SERVICE) for method in service.methods
)


def add_servicers(servicer: Any, server: Any) -> None:
    """Register ``servicer`` as both the RuntimeService and the ImageService of ``server``; an
    answer the servicer returns as bytes (a serialized response, as the relist builds them)
    is sent as it is."""
    target = _PassingBytes(server)
    # The generated registration functions carry no annotations.
    rpc.add_RuntimeServiceServicer_to_server(servicer, target)  # type: ignore[no-untyped-call]
    rpc.add_ImageServiceServicer_to_server(servicer, target)  # type: ignore[no-untyped-call]


def _passing_bytes(handler: Any) -> Any:
    """``handler`` whose response serializer sends bytes unchanged."""
    serialize = handler.response_serializer
    if serialize is None:
        return handler

    def serializer(message: Any) -> bytes:
        return message if isinstance(message, bytes) else serialize(message)

    return handler._replace(response_serializer=serializer)


class _PassingBytes:
    """The two registration calls the generated code makes, with :func:`_passing_bytes`
    handlers (the generated ones serialize every answer as a message)."""

    def __init__(self, server: Any) -> None:
        self.server = server

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        self.server.add_generic_rpc_handlers(tuple(_GenericPassingBytes(h) for h in handlers))

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        self.server.add_registered_method_handlers(
            service, {name: _passing_bytes(h) for name, h in handlers.items()}
        )


class _GenericPassingBytes(grpc.GenericRpcHandler):  # type: ignore[misc]
    """A generic handler answering with :func:`_passing_bytes` handlers (built once each)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.wrapped: dict[str, Any] = {}

    def service(self, handler_call_details: Any) -> Any:
        method = handler_call_details.method
        found = self.wrapped.get(method)
        if found is None:
            found = self.inner.service(handler_call_details)
            if found is None:
                return None
            found = self.wrapped.setdefault(method, _passing_bytes(found))
        return found
