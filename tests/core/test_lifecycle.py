"""Whole sandbox + container lifecycles over the real socket, from three kinds of client:
the generated stubs, the third-party ``cri_api`` package, and kubert's own CriClient."""

from __future__ import annotations

import grpc
import pytest
from cri_api.channel import Channel
from cri_api.containers import Containers
from cri_api.exceptions import ContainerServiceException, ImageServiceException
from cri_api.images import Images

from kubert import (
    ContainerConfig,
    ContainerFilter,
    ContainerMetadata,
    ContainerState,
    ImageSpec,
    NotFoundError,
    PodSandboxConfig,
    PodSandboxFilter,
    PodSandboxMetadata,
    PodSandboxState,
)
from kubert.cri.api import pb
from kubert.cri.client import CriClient
from tests.fixtures.server import RunningServer

from .helpers import Stubs, container_config, sandbox_config


def test_generated_stubs_lifecycle(stubs: Stubs, cri_server: RunningServer) -> None:
    runtime, images = stubs.runtime, stubs.images
    images.PullImage(pb.PullImageRequest(image=pb.ImageSpec(image="busybox:1.36")))
    config = sandbox_config("stubs")
    sandbox_id = runtime.RunPodSandbox(pb.RunPodSandboxRequest(config=config)).pod_sandbox_id
    job = container_config("job", ("sh", "-c", "exit 7"))
    job.image.image = "busybox:1.36"
    job_id = runtime.CreateContainer(
        pb.CreateContainerRequest(pod_sandbox_id=sandbox_id, config=job, sandbox_config=config)
    ).container_id
    runtime.StartContainer(pb.StartContainerRequest(container_id=job_id))
    status = runtime.ContainerStatus(pb.ContainerStatusRequest(container_id=job_id)).status
    assert (status.state, status.exit_code, status.reason) == (pb.CONTAINER_EXITED, 7, "Error")

    runtime.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=sandbox_id))
    sandbox = runtime.PodSandboxStatus(pb.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id))
    assert sandbox.status.state == pb.SANDBOX_NOTREADY
    runtime.RemoveContainer(pb.RemoveContainerRequest(container_id=job_id))
    runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id))
    assert not runtime.ListPodSandbox(pb.ListPodSandboxRequest()).items
    assert not list((cri_server.root / "checkpoints").iterdir())


def test_third_party_cri_api_client_lifecycle(cri_address: str) -> None:
    channel = Channel(cri_address)
    assert channel.version == "v1"  # it asks Version and gets an answer
    containers, images = Containers(channel), Images(channel)

    images.pull_image("alpine:3.20")
    pulled = images.get_image("alpine:3.20")
    assert pulled is not None and "alpine:3.20" in pulled["repoTags"]
    assert any("alpine:3.20" in i.get("repoTags", []) for i in images.list_images())

    # The package has no sandbox calls; its own channel carries the generated stub for those.
    runtime = containers.stub
    config = sandbox_config("thirdparty")
    sandbox_id = runtime.RunPodSandbox(pb.RunPodSandboxRequest(config=config)).pod_sandbox_id
    spec = container_config("app")
    spec.image.image = "alpine:3.20"
    container_id = runtime.CreateContainer(
        pb.CreateContainerRequest(pod_sandbox_id=sandbox_id, config=spec, sandbox_config=config)
    ).container_id
    runtime.StartContainer(pb.StartContainerRequest(container_id=container_id))

    listed = containers.list_containers({"podSandboxId": sandbox_id})
    assert [c["id"] for c in listed] == [container_id]
    assert containers.get_container(container_id)["state"] == "CONTAINER_RUNNING"
    running = containers.list_containers({"state": {"state": "CONTAINER_RUNNING"}})
    assert [c["id"] for c in running] == [container_id]

    containers.remove_container(container_id)
    with pytest.raises(ContainerServiceException) as info:
        containers.get_container(container_id)
    assert info.value.status_code == grpc.StatusCode.NOT_FOUND
    runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id))

    images.remove_image("alpine:3.20")
    assert images.get_image("alpine:3.20") is None
    with pytest.raises(ImageServiceException) as image_info:
        images.pull_image("no/such:image")
    assert image_info.value.status_code == grpc.StatusCode.NOT_FOUND
    channel.channel.close()


def test_kubert_client_lifecycle(cri_client: CriClient, cri_server: RunningServer) -> None:
    config = PodSandboxConfig(
        metadata=PodSandboxMetadata(name="client", uid="uid-c", namespace="kube-system"),
        labels={"tier": "backend"},
    )
    sandbox_id = cri_client.run_pod_sandbox(config)
    container = ContainerConfig(
        metadata=ContainerMetadata(name="server", attempt=2),
        image=ImageSpec(image="busybox:latest"),
        command=("sleep", "3600"),
    )
    container_id = cri_client.create_container(sandbox_id, container, config)
    cri_client.start_container(container_id)
    status = cri_client.container_status(container_id)
    assert status.state == ContainerState.CONTAINER_RUNNING
    assert status.metadata.attempt == 2
    assert cri_client.exec_sync(container_id, ["hostname"]).stdout == b"client\n"

    ready = cri_client.list_pod_sandbox(
        PodSandboxFilter(state=PodSandboxState.SANDBOX_READY, label_selector={"tier": "backend"})
    )
    assert [s.id for s in ready] == [sandbox_id]
    in_sandbox = cri_client.list_containers(ContainerFilter(pod_sandbox_id=sandbox_id))
    assert [c.id for c in in_sandbox] == [container_id]

    cri_client.stop_container(container_id, timeout=1)
    exited = cri_client.container_status(container_id)
    assert exited.state == ContainerState.CONTAINER_EXITED
    cri_client.stop_pod_sandbox(sandbox_id)
    assert cri_client.pod_sandbox_status(sandbox_id).state == PodSandboxState.SANDBOX_NOTREADY
    cri_client.remove_pod_sandbox(sandbox_id)
    with pytest.raises(NotFoundError):
        cri_client.container_status(container_id)
    assert cri_client.list_pod_sandbox() == []
