"""End to end: the third-party ``cri_api`` client drives kubert's CRI socket with the docker
backends behind it — a pod of two containers sharing one network namespace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest
from cri_api.channel import Channel
from cri_api.images import Images
from cri_api.v1 import api_pb2 as pb
from cri_api.v1 import api_pb2_grpc as rpc

import kubert_docker.plugin
from tests.fixtures.polling import eventually

pytestmark = pytest.mark.docker


@pytest.fixture
def docker_cri(cri_server_factory: Any, docker_engine: Any, docker_registry: Any) -> Any:
    """kubert serving CRI over the private engine; the sandbox image is only in the registry."""
    return cri_server_factory(
        runtime="docker", image="docker", network="noop",
        options={"docker": docker_engine.backend_options()},
        plugins=(kubert_docker.plugin,),
        pod_infra_image=docker_registry.pause,
    )


def test_pod_with_two_containers_sharing_the_network(
    docker_cri: Any, docker_engine: Any, docker_registry: Any, docker_client: Any,
    tmp_path: Path,
) -> None:
    channel = Channel(docker_cri.address)
    images = Images(channel)
    runtime = rpc.RuntimeServiceStub(channel.channel)
    image_service = rpc.ImageServiceStub(channel.channel)
    assert channel.version == "v1"
    status = runtime.Status(pb.StatusRequest()).status
    assert {c.type: c.status for c in status.conditions}["RuntimeReady"]

    busybox = docker_registry.busybox
    images.pull_image(busybox)
    assert images.get_image(busybox) is not None

    log_dir = tmp_path / "pod-logs"
    pod = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name="e2e", uid="uid-e2e", namespace="default"),
        hostname="e2e-pod", log_directory=str(log_dir), labels={"app": "e2e"},
        dns_config=pb.DNSConfig(servers=["10.0.0.10"]),
    )
    # The sandbox image is not on the engine yet: RunPodSandbox pulls it first.
    assert docker_client.api.images(name=docker_registry.pause) == []
    sandbox_id = runtime.RunPodSandbox(pb.RunPodSandboxRequest(config=pod)).pod_sandbox_id
    try:
        assert docker_client.api.images(name=docker_registry.pause)

        def container(name: str, script: str) -> str:
            config = pb.ContainerConfig(
                metadata=pb.ContainerMetadata(name=name), image=pb.ImageSpec(image=busybox),
                command=["sh", "-c", script], log_path=f"{name}.log", labels={"role": name},
            )
            cid = runtime.CreateContainer(pb.CreateContainerRequest(
                pod_sandbox_id=sandbox_id, config=config, sandbox_config=pod)).container_id
            runtime.StartContainer(pb.StartContainerRequest(container_id=cid))
            return cid

        server = container("server", "mkdir -p /www && echo hello-from-server > /www/index.html"
                                     " && exec httpd -f -p 127.0.0.1:8080 -h /www")
        client = container("client", "for i in 1 2 3 4 5 6 7 8 9 10; do "
                                     "wget -q -O - http://127.0.0.1:8080/ && break; sleep 0.2; "
                                     "done; sleep 300")
        # The client reached the server over the loopback of the shared netns: its log says so.
        log_file = log_dir / "client.log"
        assert eventually(
            lambda: b"hello-from-server" in (log_file.read_bytes() if log_file.exists() else b""),
            timeout=10, interval=0.05,
        ), "the client never reached the server"
        line = log_file.read_text().splitlines()[0]
        assert line.split(" ", 3)[1:] == ["stdout", "F", "hello-from-server"]

        out = runtime.ExecSync(pb.ExecSyncRequest(
            container_id=server, cmd=["sh", "-c", "hostname; cat /etc/resolv.conf"], timeout=10))
        assert out.exit_code == 0
        assert out.stdout.decode().splitlines()[0] == "e2e-pod"
        assert "nameserver 10.0.0.10" in out.stdout.decode()

        listed = runtime.ListContainers(pb.ListContainersRequest(
            filter=pb.ContainerFilter(pod_sandbox_id=sandbox_id))).containers
        assert {c.id for c in listed} == {server, client}
        assert {c.labels["role"] for c in listed} == {"server", "client"}
        sandbox = runtime.PodSandboxStatus(
            pb.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id)).status
        assert sandbox.state == pb.SANDBOX_READY and sandbox.labels == {"app": "e2e"}
        stats = runtime.ListContainerStats(pb.ListContainerStatsRequest(
            filter=pb.ContainerStatsFilter(pod_sandbox_id=sandbox_id))).stats
        assert {s.attributes.id for s in stats} == {server, client}

        with pytest.raises(grpc.RpcError) as error:
            runtime.ExecSync(pb.ExecSyncRequest(container_id=client, cmd=["sleep", "30"],
                                                timeout=1))
        assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED

        runtime.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=sandbox_id))
        exited = eventually(
            lambda: runtime.ContainerStatus(pb.ContainerStatusRequest(container_id=server)).status,
            lambda status: status.state == pb.CONTAINER_EXITED, timeout=10, interval=0.05,
        )
        assert exited.state == pb.CONTAINER_EXITED
        fs = image_service.ImageFsInfo(pb.ImageFsInfoRequest()).image_filesystems
        assert fs[0].fs_id.mountpoint.startswith(str(docker_engine.data_root))
    finally:
        runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id))
        # Untag only: RemoveImage would remove the image with all its names, and the
        # session's local busybox and pause are the same images under other names.
        docker_client.api.remove_image(busybox)
        docker_client.api.remove_image(docker_registry.pause)
    assert not runtime.ListPodSandbox(pb.ListPodSandboxRequest()).items
    assert not docker_client.api.containers(all=True, filters={"label": "io.kubernetes.pod.uid"})
    channel.channel.close()


def test_unknown_container_is_not_found_over_grpc(docker_cri: Any) -> None:
    channel = Channel(docker_cri.address)
    runtime = rpc.RuntimeServiceStub(channel.channel)
    with pytest.raises(grpc.RpcError) as error:
        runtime.ContainerStatus(pb.ContainerStatusRequest(container_id="0" * 64))
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    channel.channel.close()
