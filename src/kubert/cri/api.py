"""The one door to the CRI v1 protobuf bindings (PyPI ``container-runtime-interface-api``).

Everything else in kubert imports ``pb`` (messages) and ``rpc`` (stubs, servicers) from here,
so that swapping the bindings for another build of the same ``api.proto`` touches one file.
"""

from __future__ import annotations

from typing import Any

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
    """Register ``servicer`` as both the RuntimeService and the ImageService of ``server``."""
    # The generated registration functions carry no annotations.
    rpc.add_RuntimeServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    rpc.add_ImageServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
