"""Helpers of the core tests: raw generated stubs and CRI protobuf configs."""

from __future__ import annotations

import grpc
from attrs import frozen

from kubert.cri.api import pb, rpc


@frozen
class Stubs:
    """The generated RuntimeService and ImageService stubs on one channel."""

    channel: grpc.Channel
    runtime: rpc.RuntimeServiceStub
    images: rpc.ImageServiceStub


def sandbox_config(name: str = "web", uid: str = "uid-1", attempt: int = 0) -> pb.PodSandboxConfig:
    return pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=name, uid=uid, namespace="default", attempt=attempt),
        hostname=name,
        log_directory=f"/var/log/pods/default_{name}_{uid}",
        labels={"app": name},
        annotations={"kubert.test/case": "yes"},
        port_mappings=[pb.PortMapping(protocol=pb.TCP, container_port=80, host_port=8080)],
    )


def container_config(name: str = "main", command: tuple[str, ...] = ("sleep", "3600")) -> (
    pb.ContainerConfig
):
    return pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name=name),
        image=pb.ImageSpec(image="busybox:latest"),
        command=list(command),
        labels={"container": name},
        log_path=f"{name}/0.log",
    )


@frozen
class Pod:
    sandbox_id: str
    container_id: str
    config: pb.PodSandboxConfig
