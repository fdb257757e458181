"""Fixtures of the core tests: raw generated stubs on the fixture server, a ready pod."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from kubert.cri.api import pb, rpc

from .helpers import Pod, Stubs, container_config, sandbox_config


@pytest.fixture
def stubs(cri_address: str) -> Iterator[Stubs]:
    channel = grpc.insecure_channel(cri_address)
    grpc.channel_ready_future(channel).result(timeout=5)
    yield Stubs(channel, rpc.RuntimeServiceStub(channel), rpc.ImageServiceStub(channel))
    channel.close()


@pytest.fixture
def pod(stubs: Stubs) -> Pod:
    """A ready sandbox with one running container, made through the raw stubs."""
    config = sandbox_config()
    sandbox_id = stubs.runtime.RunPodSandbox(pb.RunPodSandboxRequest(config=config)).pod_sandbox_id
    container_id = stubs.runtime.CreateContainer(
        pb.CreateContainerRequest(
            pod_sandbox_id=sandbox_id, config=container_config(), sandbox_config=config
        )
    ).container_id
    stubs.runtime.StartContainer(pb.StartContainerRequest(container_id=container_id))
    return Pod(sandbox_id, container_id, config)
