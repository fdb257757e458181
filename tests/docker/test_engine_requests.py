"""The engine requests of one pod lifecycle, counted exactly by a proxy on the engine socket.

kubert serves CRI over the real socket with the docker backends pointed at
:class:`kubert_docker.testing.proxy.CountingProxy`, which passes every byte to the private
engine and logs each request's method and path. One lifecycle (RunPodSandbox, CreateContainer,
StartContainer, StopPodSandbox, RemovePodSandbox) must make exactly the requests the work needs
and what only the engine can tell (the pid after each start); the server's start-up requests
(GET /version once, the event stream, the first full read, GET /info) and the first lookup of
each image are outside the lifecycle and asserted separately.
"""

from __future__ import annotations

import socket
import struct
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from cri_api.v1 import api_pb2 as pb
from cri_api.v1 import api_pb2_grpc as rpc

import kubert_docker.plugin
from kubert_docker.testing.proxy import CountingProxy

pytestmark = pytest.mark.docker


@pytest.fixture
def proxy(docker_engine: Any) -> Iterator[CountingProxy]:
    workdir = Path(tempfile.mkdtemp(prefix="kubert-proxy-", dir="/tmp"))
    with CountingProxy(docker_engine.socket, workdir / "engine.sock") as counting:
        yield counting


def _shape(requests: list[Any], ids: dict[str, str]) -> list[str]:
    """``METHOD /path`` with container IDs replaced by their role, for exact comparison."""
    shaped = []
    for request in requests:
        text = str(request)
        for cid, role in ids.items():
            text = text.replace(cid, role)
        shaped.append(text)
    return shaped


def _lifecycle(stub: Any, image: str, logs: Path, n: int) -> dict[str, str]:
    pod = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=f"count{n}", uid=f"count-{n}", namespace="ns"),
        log_directory=str(logs / str(n)),
    )
    sid = stub.RunPodSandbox(pb.RunPodSandboxRequest(config=pod)).pod_sandbox_id
    config = pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name="app"), image=pb.ImageSpec(image=image),
        command=["sleep", "3600"], log_path="app.log",
    )
    cid = stub.CreateContainer(pb.CreateContainerRequest(
        pod_sandbox_id=sid, config=config, sandbox_config=pod)).container_id
    stub.StartContainer(pb.StartContainerRequest(container_id=cid))
    stub.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=sid))
    stub.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=sid))
    return {sid: "SANDBOX", cid: "APP"}


#: Each request of a lifecycle and why it is made.
LIFECYCLE = [
    "POST /containers/create",  # RunPodSandbox: the pause container
    "POST /containers/SANDBOX/start",
    "GET /containers/SANDBOX/json",  # the pause pid, for the netns the network joins
    "POST /containers/create",  # CreateContainer (no inspect: StartContainer's follows)
    "POST /containers/APP/start",
    "GET /containers/APP/json",  # the app's pid (its cgroups) and the engine's times
    "POST /containers/APP/kill",  # StopPodSandbox: SIGKILL (a stop sends two signals)
    "POST /containers/SANDBOX/stop",
    "DELETE /containers/APP",  # RemovePodSandbox
    "DELETE /containers/SANDBOX",
]


def test_one_lifecycle_makes_ten_engine_requests(
    cri_server_factory: Any, docker_engine: Any, proxy: CountingProxy, tmp_path: Path
) -> None:
    server = cri_server_factory(
        runtime="docker", image="docker", network="noop",
        options={"docker": {"endpoint": proxy.host}}, plugins=(kubert_docker.plugin,),
        pod_infra_image=docker_engine.pause,
    )
    channel = grpc.insecure_channel(server.address)
    stub = rpc.RuntimeServiceStub(channel)
    try:
        proxy.settle()
        start_up = [str(r) for r in proxy.since()]
        assert start_up == ["GET /version", "GET /events", "GET /containers/json", "GET /info"]

        first = proxy.mark()
        ids = _lifecycle(stub, docker_engine.busybox, tmp_path / "logs", 0)
        proxy.settle()
        made = proxy.since(first)
        image_id = next(r.path for r in made if r.path.startswith("/images/sha256:"))
        # Once per server and image: the sandbox image's presence (then known from the
        # events) and the app image's digest.
        once = [f"GET /images/{docker_engine.pause}/json", f"GET {image_id}"]
        assert len(LIFECYCLE) == 10
        assert sorted(_shape(made, ids)) == sorted(LIFECYCLE + once)

        for n in (1, 2):
            mark = proxy.mark()
            ids = _lifecycle(stub, docker_engine.busybox, tmp_path / "logs", n)
            proxy.settle()
            # StopPodSandbox stops the app and the pause container at once, so the order of
            # those two may vary. The CRI log is copied from the engine's files on disk: no
            # request at all.
            assert sorted(_shape(proxy.since(mark), ids)) == sorted(LIFECYCLE)
    finally:
        channel.close()


def test_the_proxy_passes_event_streams_and_hijacked_attach(
    docker_engine: Any, docker_client: Any, proxy: CountingProxy
) -> None:
    import docker

    api = docker.APIClient(base_url=proxy.host, version="1.41", timeout=30)
    container = docker_client.containers.create(
        docker_engine.busybox, ["cat"], stdin_open=True, network_mode="none"
    )
    try:
        events = api.events(decode=True, filters={"container": container.id})
        container.start()
        first = next(iter(events))
        assert first["Action"] == "start" and first["Actor"]["ID"] == container.id
        events.close()

        hijacked = api.attach_socket(
            container.id, params={"stdin": 1, "stdout": 1, "stream": 1}
        )
        raw: socket.socket = hijacked._sock
        raw.sendall(b"through the proxy\n")
        raw.settimeout(10)
        header = _read_exactly(raw, 8)
        (size,) = struct.unpack(">I", header[4:])
        assert _read_exactly(raw, size) == b"through the proxy\n"
        raw.close()
    finally:
        container.remove(force=True)
        api.close()
    made = [str(r) for r in proxy.since()]
    assert "GET /events" in made
    assert f"POST /containers/{container.id}/attach" in made


def _read_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    deadline = time.monotonic() + 10
    while len(data) < count and time.monotonic() < deadline:
        chunk = sock.recv(count - len(data))
        if not chunk:
            break
        data += chunk
    return data
