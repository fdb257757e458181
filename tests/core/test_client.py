"""CriClient: connecting with a timeout, and gRPC status codes mapped back to kubert errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubert import (
    AlreadyExistsError,
    ContainerConfig,
    ContainerMetadata,
    ExecRequest,
    FailedPreconditionError,
    ImageSpec,
    InvalidArgumentError,
    NotFoundError,
    PodSandboxConfig,
    PodSandboxMetadata,
    UnavailableError,
    UnimplementedError,
)
from kubert.cri.client import CriClient
from tests.fixtures.server import RunningServer

CONFIG = PodSandboxConfig(metadata=PodSandboxMetadata(name="c", uid="u", namespace="default"))


def test_connect_times_out_when_nothing_listens(tmp_path: Path) -> None:
    with pytest.raises(UnavailableError, match=r"no answer within 0\.3s"):
        CriClient.connect(f"unix://{tmp_path}/nothing.sock", timeout=0.3)


def test_errors_come_back_typed_with_the_server_message(
    cri_client: CriClient, cri_server: RunningServer
) -> None:
    with pytest.raises(NotFoundError, match=r"sandbox '0+' not found"):
        cri_client.pod_sandbox_status("0" * 64)
    sandbox_id = cri_client.run_pod_sandbox(CONFIG)
    with pytest.raises(AlreadyExistsError, match="already exists"):
        cri_client.run_pod_sandbox(CONFIG)
    container = ContainerConfig(
        metadata=ContainerMetadata(name="x"), image=ImageSpec(image="busybox:latest")
    )
    container_id = cri_client.create_container(sandbox_id, container, CONFIG)
    with pytest.raises(FailedPreconditionError, match="not running"):
        cri_client.exec_sync(container_id, ["true"])
    with pytest.raises(InvalidArgumentError, match=r"^timeout:"):
        cri_client.stop_container(container_id, timeout=-1)
    with pytest.raises(UnimplementedError, match="'memory'"):
        cri_client.exec(ExecRequest(container_id=container_id, cmd=("sh",), stdout=True))
    # None of it disturbed the server.
    assert [s.id for s in cri_client.list_pod_sandbox()] == [sandbox_id]


def test_server_gone_is_unavailable(cri_server: RunningServer) -> None:
    client = cri_server.client()
    cri_server.stop()
    with pytest.raises(UnavailableError):
        client.version()
    client.close()
