"""Every one of the 35 CRI v1 RPCs over the real socket with the generated stubs.

Each RPC has a case below (the parametrization is over the service descriptors, so an RPC
without a case fails): it works against the memory backend, or answers UNIMPLEMENTED with a
message that names the backend lacking it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

import grpc
import pytest

from kubert.cri.api import RPC_NAMES, pb
from tests.fixtures.server import RunningServer

from .helpers import Pod, Stubs, container_config, sandbox_config

Case = Callable[[Stubs, Pod, RunningServer], None]
CASES: dict[str, Case] = {}


def case(name: str) -> Callable[[Case], Case]:
    def register(function: Case) -> Case:
        CASES[name] = function
        return function

    return register


def unimplemented(call: Callable[[], object], backend: str) -> None:
    with pytest.raises(grpc.RpcError) as info:
        call()
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert backend in info.value.details()


# ---- runtime-wide ----------------------------------------------------------------------


@case("Version")
def _version(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    answer = stubs.runtime.Version(pb.VersionRequest(version="v1"))
    assert answer.runtime_name == "kubert"
    assert answer.runtime_api_version == "v1"
    assert "memory" in answer.runtime_version


@case("Status")
def _status(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    answer = stubs.runtime.Status(pb.StatusRequest())
    conditions = {c.type: c for c in answer.status.conditions}
    assert conditions["RuntimeReady"].status and conditions["NetworkReady"].status
    server.runtime.set_ready(False, "EngineDown", "the engine is gone")
    conditions = {c.type: c for c in stubs.runtime.Status(pb.StatusRequest()).status.conditions}
    assert not conditions["RuntimeReady"].status
    assert conditions["RuntimeReady"].reason == "EngineDown"
    assert conditions["RuntimeReady"].message == "the engine is gone"
    assert [h.name for h in answer.runtime_handlers] == [""]


@case("UpdateRuntimeConfig")
def _update_runtime_config(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    stubs.runtime.UpdateRuntimeConfig(
        pb.UpdateRuntimeConfigRequest(
            runtime_config=pb.RuntimeConfig(network_config=pb.NetworkConfig(pod_cidr="10.88.0.0/16"))
        )
    )


@case("RuntimeConfig")
def _runtime_config(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    answer = stubs.runtime.RuntimeConfig(pb.RuntimeConfigRequest())
    assert answer.linux.cgroup_driver == pb.CGROUPFS


# ---- sandboxes -------------------------------------------------------------------------


@case("RunPodSandbox")
def _run(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    other = stubs.runtime.RunPodSandbox(
        pb.RunPodSandboxRequest(config=sandbox_config("db", "uid-2"))
    ).pod_sandbox_id
    assert other and other != pod.sandbox_id
    assert (server.root / "checkpoints" / f"{other}.json").is_file()


@case("StopPodSandbox")
def _stop(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    stubs.runtime.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod.sandbox_id))
    status = stubs.runtime.PodSandboxStatus(
        pb.PodSandboxStatusRequest(pod_sandbox_id=pod.sandbox_id)
    ).status
    assert status.state == pb.SANDBOX_NOTREADY
    container = stubs.runtime.ContainerStatus(
        pb.ContainerStatusRequest(container_id=pod.container_id)
    ).status
    assert container.state == pb.CONTAINER_EXITED
    # Idempotent, and an unknown sandbox counts as stopped.
    stubs.runtime.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod.sandbox_id))
    stubs.runtime.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id="f" * 64))


@case("RemovePodSandbox")
def _remove(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    stubs.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod.sandbox_id))
    assert not stubs.runtime.ListPodSandbox(pb.ListPodSandboxRequest()).items
    assert not stubs.runtime.ListContainers(pb.ListContainersRequest()).containers
    assert not (server.root / "checkpoints" / f"{pod.sandbox_id}.json").exists()
    stubs.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod.sandbox_id))


@case("PodSandboxStatus")
def _sandbox_status(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    status = stubs.runtime.PodSandboxStatus(
        pb.PodSandboxStatusRequest(pod_sandbox_id=pod.sandbox_id)
    ).status
    assert status.id == pod.sandbox_id
    assert status.metadata == pod.config.metadata
    assert status.state == pb.SANDBOX_READY
    assert dict(status.labels) == {"app": "web"}
    with pytest.raises(grpc.RpcError) as info:
        stubs.runtime.PodSandboxStatus(pb.PodSandboxStatusRequest(pod_sandbox_id="0" * 64))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


@case("ListPodSandbox")
def _list_sandboxes(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    items = stubs.runtime.ListPodSandbox(pb.ListPodSandboxRequest()).items
    assert [s.id for s in items] == [pod.sandbox_id]
    by_label = pb.ListPodSandboxRequest(filter=pb.PodSandboxFilter(label_selector={"app": "x"}))
    assert not stubs.runtime.ListPodSandbox(by_label).items
    by_state = pb.ListPodSandboxRequest(
        filter=pb.PodSandboxFilter(state=pb.PodSandboxStateValue(state=pb.SANDBOX_READY))
    )
    assert len(stubs.runtime.ListPodSandbox(by_state).items) == 1
    by_prefix = pb.ListPodSandboxRequest(filter=pb.PodSandboxFilter(id=pod.sandbox_id[:8]))
    assert len(stubs.runtime.ListPodSandbox(by_prefix).items) == 1


# ---- containers ------------------------------------------------------------------------


@case("CreateContainer")
def _create(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    second = stubs.runtime.CreateContainer(
        pb.CreateContainerRequest(
            pod_sandbox_id=pod.sandbox_id, config=container_config("sidecar"),
            sandbox_config=pod.config,
        )
    ).container_id
    status = stubs.runtime.ContainerStatus(pb.ContainerStatusRequest(container_id=second)).status
    assert status.state == pb.CONTAINER_CREATED
    assert status.metadata.name == "sidecar"
    with pytest.raises(grpc.RpcError) as info:  # same name and attempt
        stubs.runtime.CreateContainer(
            pb.CreateContainerRequest(
                pod_sandbox_id=pod.sandbox_id, config=container_config("sidecar"),
                sandbox_config=pod.config,
            )
        )
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS


@case("StartContainer")
def _start(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    status = stubs.runtime.ContainerStatus(
        pb.ContainerStatusRequest(container_id=pod.container_id)
    ).status
    assert status.state == pb.CONTAINER_RUNNING and status.started_at > 0
    with pytest.raises(grpc.RpcError) as info:  # only CREATED containers start
        stubs.runtime.StartContainer(pb.StartContainerRequest(container_id=pod.container_id))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION


@case("StopContainer")
def _stop_container(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    stubs.runtime.StopContainer(pb.StopContainerRequest(container_id=pod.container_id, timeout=1))
    status = stubs.runtime.ContainerStatus(
        pb.ContainerStatusRequest(container_id=pod.container_id)
    ).status
    assert status.state == pb.CONTAINER_EXITED and status.finished_at >= status.started_at


@case("RemoveContainer")
def _remove_container(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    stubs.runtime.RemoveContainer(pb.RemoveContainerRequest(container_id=pod.container_id))
    assert not stubs.runtime.ListContainers(pb.ListContainersRequest()).containers
    with pytest.raises(grpc.RpcError) as info:
        stubs.runtime.ContainerStatus(pb.ContainerStatusRequest(container_id=pod.container_id))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


@case("ListContainers")
def _list_containers(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    containers = stubs.runtime.ListContainers(pb.ListContainersRequest()).containers
    assert [(c.id, c.pod_sandbox_id) for c in containers] == [(pod.container_id, pod.sandbox_id)]
    exited = pb.ListContainersRequest(
        filter=pb.ContainerFilter(state=pb.ContainerStateValue(state=pb.CONTAINER_EXITED))
    )
    assert not stubs.runtime.ListContainers(exited).containers


@case("ContainerStatus")
def _container_status(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    status = stubs.runtime.ContainerStatus(
        pb.ContainerStatusRequest(container_id=pod.container_id)
    ).status
    assert status.id == pod.container_id
    assert status.image.image == "busybox:latest" and status.image_ref
    assert dict(status.labels) == {"container": "main"}


@case("UpdateContainerResources")
def _update_resources(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    stubs.runtime.UpdateContainerResources(
        pb.UpdateContainerResourcesRequest(
            container_id=pod.container_id,
            linux=pb.LinuxContainerResources(cpu_shares=512, memory_limit_in_bytes=64 << 20),
        )
    )
    status = stubs.runtime.ContainerStatus(
        pb.ContainerStatusRequest(container_id=pod.container_id)
    ).status
    assert status.resources.linux.memory_limit_in_bytes == 64 << 20


@case("ReopenContainerLog")
def _reopen_log(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    stubs.runtime.ReopenContainerLog(pb.ReopenContainerLogRequest(container_id=pod.container_id))


@case("ExecSync")
def _exec_sync(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    answer = stubs.runtime.ExecSync(
        pb.ExecSyncRequest(container_id=pod.container_id, cmd=["echo", "hello"], timeout=5)
    )
    assert (answer.stdout, answer.exit_code) == (b"hello\n", 0)
    failed = stubs.runtime.ExecSync(
        pb.ExecSyncRequest(container_id=pod.container_id, cmd=["sh", "-c", "exit 3"])
    )
    assert failed.exit_code == 3


# ---- streaming URLs: no streaming server is wired into the core yet ---------------------


@case("Exec")
def _exec(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    request = pb.ExecRequest(container_id=pod.container_id, cmd=["sh"], stdout=True)
    unimplemented(lambda: stubs.runtime.Exec(request), "memory")


@case("Attach")
def _attach(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    request = pb.AttachRequest(container_id=pod.container_id, stdout=True)
    unimplemented(lambda: stubs.runtime.Attach(request), "memory")


@case("PortForward")
def _port_forward(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    request = pb.PortForwardRequest(pod_sandbox_id=pod.sandbox_id, port=[80])
    unimplemented(lambda: stubs.runtime.PortForward(request), "memory")


# ---- stats, events, checkpoints, metrics -----------------------------------------------


@case("ContainerStats")
def _container_stats(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    stats = stubs.runtime.ContainerStats(
        pb.ContainerStatsRequest(container_id=pod.container_id)
    ).stats
    assert stats.attributes.id == pod.container_id
    assert stats.cpu.timestamp > 0


@case("ListContainerStats")
def _list_container_stats(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    stats = stubs.runtime.ListContainerStats(pb.ListContainerStatsRequest()).stats
    assert [s.attributes.id for s in stats] == [pod.container_id]


@case("PodSandboxStats")
def _sandbox_stats(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    stats = stubs.runtime.PodSandboxStats(
        pb.PodSandboxStatsRequest(pod_sandbox_id=pod.sandbox_id)
    ).stats
    assert stats.attributes.id == pod.sandbox_id


@case("ListPodSandboxStats")
def _list_sandbox_stats(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    stats = stubs.runtime.ListPodSandboxStats(pb.ListPodSandboxStatsRequest()).stats
    assert [s.attributes.id for s in stats] == [pod.sandbox_id]


@case("CheckpointContainer")
def _checkpoint_container(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    request = pb.CheckpointContainerRequest(
        container_id=pod.container_id, location="/tmp/checkpoint.tar"
    )
    unimplemented(lambda: stubs.runtime.CheckpointContainer(request), "memory")


@case("GetContainerEvents")
def _events(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    stream = stubs.runtime.GetContainerEvents(pb.GetEventsRequest())
    received: queue.SimpleQueue[object] = queue.SimpleQueue()

    def read() -> None:
        try:
            received.put(next(iter(stream)))
        except grpc.RpcError as error:
            received.put(error)

    threading.Thread(target=read, daemon=True).start()
    created: list[str] = []
    event: object = None
    try:
        # The server subscribes when the call reaches it; until then events are not
        # delivered, so make containers until one is seen (bounded).
        for attempt in range(40):
            created.append(
                stubs.runtime.CreateContainer(
                    pb.CreateContainerRequest(
                        pod_sandbox_id=pod.sandbox_id, config=container_config(f"late{attempt}"),
                        sandbox_config=pod.config,
                    )
                ).container_id
            )
            try:
                event = received.get(timeout=0.25)
                break
            except queue.Empty:
                continue
    finally:
        stream.cancel()
    assert isinstance(event, pb.ContainerEventResponse), event
    assert event.container_id in created
    assert event.container_event_type == pb.CONTAINER_CREATED_EVENT
    assert event.created_at > 0


@case("ListMetricDescriptors")
def _metric_descriptors(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    descriptors = stubs.runtime.ListMetricDescriptors(pb.ListMetricDescriptorsRequest()).descriptors
    by_name = {d.name: d for d in descriptors}
    assert "container_cpu_usage_seconds_total" in by_name
    assert list(by_name["container_memory_working_set_bytes"].label_keys) == [
        "container", "id", "image", "namespace", "pod"
    ]


@case("ListPodSandboxMetrics")
def _sandbox_metrics(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    answer = stubs.runtime.ListPodSandboxMetrics(pb.ListPodSandboxMetricsRequest())
    [metrics] = answer.pod_metrics
    assert metrics.pod_sandbox_id == pod.sandbox_id
    [container] = metrics.container_metrics
    assert container.container_id == pod.container_id
    working_set = next(
        m for m in container.metrics if m.name == "container_memory_working_set_bytes"
    )
    assert working_set.metric_type == pb.GAUGE and working_set.value.value > 0
    assert list(working_set.label_values) == [
        "main", pod.container_id, "busybox:latest", "default", "web"
    ]


@case("UpdatePodSandboxResources")
def _update_sandbox_resources(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    stubs.runtime.UpdatePodSandboxResources(
        pb.UpdatePodSandboxResourcesRequest(
            pod_sandbox_id=pod.sandbox_id,
            resources=pb.LinuxContainerResources(cpu_shares=256),
        )
    )


# ---- ImageService ----------------------------------------------------------------------


@case("ListImages")
def _list_images(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    images = stubs.images.ListImages(pb.ListImagesRequest()).images
    tags = {tag for image in images for tag in image.repo_tags}
    assert {"busybox:latest", "registry.k8s.io/pause:3.9"} <= tags


@case("ImageStatus")
def _image_status(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    present = stubs.images.ImageStatus(
        pb.ImageStatusRequest(image=pb.ImageSpec(image="busybox:latest"))
    )
    assert present.HasField("image") and "busybox:latest" in present.image.repo_tags
    absent = stubs.images.ImageStatus(
        pb.ImageStatusRequest(image=pb.ImageSpec(image="nginx:1.27"))
    )
    assert not absent.HasField("image")


@case("PullImage")
def _pull(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    ref = stubs.images.PullImage(
        pb.PullImageRequest(image=pb.ImageSpec(image="alpine:3.20"))
    ).image_ref
    assert ref
    status = stubs.images.ImageStatus(pb.ImageStatusRequest(image=pb.ImageSpec(image=ref)))
    assert "alpine:3.20" in status.image.repo_tags
    with pytest.raises(grpc.RpcError) as info:
        stubs.images.PullImage(pb.PullImageRequest(image=pb.ImageSpec(image="nosuch:1")))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


@case("RemoveImage")
def _remove_image(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    stubs.images.PullImage(pb.PullImageRequest(image=pb.ImageSpec(image="nginx:1.27")))
    stubs.images.RemoveImage(pb.RemoveImageRequest(image=pb.ImageSpec(image="nginx:1.27")))
    absent = stubs.images.ImageStatus(
        pb.ImageStatusRequest(image=pb.ImageSpec(image="nginx:1.27"))
    )
    assert not absent.HasField("image")
    with pytest.raises(grpc.RpcError) as info:  # the running container uses busybox
        stubs.images.RemoveImage(pb.RemoveImageRequest(image=pb.ImageSpec(image="busybox:latest")))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION


@case("ImageFsInfo")
def _image_fs_info(stubs: Stubs, pod: Pod, server: RunningServer) -> None:
    info = stubs.images.ImageFsInfo(pb.ImageFsInfoRequest())
    assert info.image_filesystems and info.image_filesystems[0].used_bytes.value > 0


def test_every_rpc_has_a_case() -> None:
    assert len(RPC_NAMES) == 35
    assert sorted(CASES) == sorted(RPC_NAMES)


@pytest.mark.parametrize("rpc_name", RPC_NAMES)
def test_rpc(rpc_name: str, stubs: Stubs, pod: Pod, cri_server: RunningServer) -> None:
    CASES[rpc_name](stubs, pod, cri_server)
    # Whatever the case did, the server still answers.
    assert stubs.runtime.Version(pb.VersionRequest()).runtime_name == "kubert"
