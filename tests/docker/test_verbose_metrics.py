"""Verbose status info and the CRI metric RPCs with the docker backends behind the real socket:
the info names the real pause and container processes, the metrics come from their cgroups."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

import kubert_docker.plugin
from kubert.cri.api import pb, rpc
from tests.fixtures.polling import eventually

pytestmark = pytest.mark.docker


class Pod:
    """One sandbox with one busybox container, made and removed over the CRI socket."""

    def __init__(self, runtime: Any, busybox: str, log_dir: Path, *command: str) -> None:
        self.runtime = runtime
        self.config = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name="inspected", uid=f"uid-{time.time_ns()}",
                                           namespace="verbose"),
            log_directory=str(log_dir),
        )
        self.sandbox_id = runtime.RunPodSandbox(
            pb.RunPodSandboxRequest(config=self.config)
        ).pod_sandbox_id
        self.container_id = runtime.CreateContainer(
            pb.CreateContainerRequest(
                pod_sandbox_id=self.sandbox_id, sandbox_config=self.config,
                config=pb.ContainerConfig(
                    metadata=pb.ContainerMetadata(name="main"),
                    image=pb.ImageSpec(image=busybox), command=list(command),
                    envs=[pb.KeyValue(key="GREETING", value="hello")], log_path="main.log",
                ),
            )
        ).container_id
        runtime.StartContainer(pb.StartContainerRequest(container_id=self.container_id))

    def remove(self) -> None:
        self.runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=self.sandbox_id))


@pytest.fixture
def stubs(cri_server_factory: Any, docker_engine: Any) -> Iterator[tuple[Any, Any]]:
    server = cri_server_factory(
        runtime="docker", image="docker", network="noop",
        options={"docker": docker_engine.backend_options()},
        plugins=(kubert_docker.plugin,),
        pod_infra_image=docker_engine.pause,
    )
    channel = grpc.insecure_channel(server.address)
    yield rpc.RuntimeServiceStub(channel), rpc.ImageServiceStub(channel)
    channel.close()


def _netns_inode(path: str) -> int:
    return os.stat(path).st_ino


def test_inspect_info_names_the_real_processes(
    stubs: tuple[Any, Any], docker_engine: Any, docker_client: Any, tmp_path: Path
) -> None:
    runtime, _ = stubs
    pod = Pod(runtime, docker_engine.busybox, tmp_path, "sleep", "60")
    try:
        answer = runtime.PodSandboxStatus(
            pb.PodSandboxStatusRequest(pod_sandbox_id=pod.sandbox_id, verbose=True)
        )
        info = json.loads(answer.info["info"])
        pause_pid = docker_client.api.inspect_container(pod.sandbox_id)["State"]["Pid"]
        assert info["pid"] == pause_pid > 0
        assert Path(f"/proc/{pause_pid}").exists()
        # The netns path kubert hands out is the pause process's own network namespace.
        assert _netns_inode(info["netnsPath"]) == _netns_inode(f"/proc/{pause_pid}/ns/net")
        assert info["metadata"]["namespace"] == "verbose"
        assert info["docker"]["config"]["Image"] == docker_engine.pause
        assert info["docker"]["hostConfig"]["NetworkMode"] == "none"
        assert [c.id for c in answer.containers_statuses] == [pod.container_id]
        assert answer.containers_statuses[0].state == pb.CONTAINER_RUNNING
        assert answer.timestamp > 0

        container = json.loads(runtime.ContainerStatus(
            pb.ContainerStatusRequest(container_id=pod.container_id, verbose=True)
        ).info["info"])
        assert container["sandboxID"] == pod.sandbox_id
        pid = container["pid"]
        assert pid == docker_client.api.inspect_container(pod.container_id)["State"]["Pid"] > 0
        assert Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:2] == [b"sleep", b"60"]
        # The container joined the sandbox's network namespace.
        assert _netns_inode(f"/proc/{pid}/ns/net") == _netns_inode(f"/proc/{pause_pid}/ns/net")
        assert "GREETING=hello" in container["docker"]["config"]["Env"]
        assert container["docker"]["hostConfig"]["NetworkMode"] == f"container:{pod.sandbox_id}"
    finally:
        pod.remove()


def test_image_and_runtime_info(stubs: tuple[Any, Any], docker_engine: Any) -> None:
    runtime, images = stubs
    answer = images.ImageStatus(pb.ImageStatusRequest(
        image=pb.ImageSpec(image=docker_engine.busybox_user), verbose=True
    ))
    info = json.loads(answer.info["info"])
    assert info["id"] == answer.image.id
    assert info["imageSpec"]["config"]["User"] == "1234"
    assert info["imageSpec"]["config"]["Cmd"] == ["/bin/sh"]
    assert info["imageSpec"]["rootfs"]["diff_ids"]
    terse = images.ImageStatus(pb.ImageStatusRequest(image=pb.ImageSpec(image=answer.image.id)))
    assert terse.image.id == answer.image.id and not terse.info

    status = runtime.Status(pb.StatusRequest(verbose=True))
    assert json.loads(status.info["kubert"])["backends"]["runtime"] == "docker"
    engine = json.loads(status.info["info"])
    assert engine["engine"]["CgroupDriver"] in ("cgroupfs", "systemd")
    assert engine["config"]["endpoint"] == docker_engine.backend_options()["endpoint"]


def _metric(metrics: Any, name: str) -> Any:
    return next((m for m in metrics if m.name == name), None)


def test_metrics_of_a_busy_container(
    stubs: tuple[Any, Any], docker_engine: Any, tmp_path: Path
) -> None:
    runtime, _ = stubs
    descriptors = {
        d.name: d for d in runtime.ListMetricDescriptors(
            pb.ListMetricDescriptorsRequest()
        ).descriptors
    }
    pod = Pod(runtime, docker_engine.busybox, tmp_path, "sh", "-c", "while :; do :; done")
    try:
        def pod_metrics() -> Any:
            answer = runtime.ListPodSandboxMetrics(pb.ListPodSandboxMetricsRequest())
            return next(p for p in answer.pod_metrics if p.pod_sandbox_id == pod.sandbox_id)

        def burned_a_second() -> Any:
            found = pod_metrics()
            containers = {c.container_id: c for c in found.container_metrics}
            cpu = _metric(containers[pod.container_id].metrics,
                          "container_cpu_usage_seconds_total")
            return found if cpu is not None and cpu.value.value >= 1 else None

        found = eventually(burned_a_second, timeout=20, interval=0.02)
        assert found, "the busy loop did not reach one CPU second within 20 s"
        [container] = found.container_metrics
        cpu = _metric(container.metrics, "container_cpu_usage_seconds_total")
        assert cpu.metric_type == pb.COUNTER
        assert list(cpu.label_values) == [
            "main", pod.container_id, docker_engine.busybox, "verbose", "inspected"
        ]
        working_set = _metric(container.metrics, "container_memory_working_set_bytes")
        assert working_set.metric_type == pb.GAUGE and working_set.value.value > 0
        # The pod: pause plus the shell, summed over their cgroups.
        assert _metric(found.metrics, "container_processes").value.value >= 2
        pod_cpu = _metric(found.metrics, "container_cpu_usage_seconds_total").value.value
        assert pod_cpu >= cpu.value.value
        for metric in (*found.metrics, *container.metrics):
            assert len(metric.label_values) == len(descriptors[metric.name].label_keys)
    finally:
        pod.remove()
    remaining = runtime.ListPodSandboxMetrics(pb.ListPodSandboxMetricsRequest()).pod_metrics
    assert pod.sandbox_id not in {p.pod_sandbox_id for p in remaining}
