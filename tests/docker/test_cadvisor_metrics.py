"""cAdvisor's container series through the real socket on the real engine: every series of the
issue is described, and a running container has a value for each one the kernel keeps, read from
its cgroup, its processes and its pod's network namespace."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from kubert.cri.api import pb, rpc
from kubert_docker.cadvisor import SERIES
from tests.fixtures.crictl import crictl
from tests.fixtures.polling import eventually

pytestmark = pytest.mark.docker

MIB = 1024 * 1024
#: Counters the kernel keeps only for devices that saw I/O (none, for a tmpfs-only container).
IO_SERIES = {
    "container_blkio_device_usage_total",
    "container_fs_reads_bytes_total",
    "container_fs_reads_total",
    "container_fs_writes_bytes_total",
    "container_fs_writes_total",
}
NETWORK_SERIES = {name for name in SERIES if name.startswith("container_network_")}
#: cAdvisor's types: counters are its *_total series (but the inode count) and failcnt.
GAUGES = {
    "container_file_descriptors",
    "container_fs_inodes_free",
    "container_fs_inodes_total",
    "container_fs_limit_bytes",
    "container_fs_usage_bytes",
    "container_last_seen",
    "container_memory_cache",
    "container_memory_kernel_usage",
    "container_memory_mapped_file",
    "container_memory_max_usage_bytes",
    "container_memory_swap",
    "container_sockets",
    "container_spec_cpu_period",
    "container_spec_cpu_shares",
    "container_spec_memory_limit_bytes",
    "container_spec_memory_swap_limit_bytes",
    "container_start_time_seconds",
    "container_threads",
    "container_threads_max",
}
CADVISOR_TYPES = {name: pb.GAUGE if name in GAUGES else pb.COUNTER for name in SERIES}


@pytest.fixture
def server(docker_server: Any) -> Any:
    return docker_server


@pytest.fixture
def runtime(server: Any) -> Iterator[Any]:
    channel = grpc.insecure_channel(server.address)
    yield rpc.RuntimeServiceStub(channel)
    channel.close()


def test_every_series_is_described_with_cadvisors_labels(runtime: Any, server: Any) -> None:
    descriptors = {
        d.name: d
        for d in runtime.ListMetricDescriptors(pb.ListMetricDescriptorsRequest()).descriptors
    }
    assert set(SERIES) <= set(descriptors)
    base = ["container", "id", "image", "namespace", "pod"]
    assert list(descriptors["container_fs_usage_bytes"].label_keys) == [*base, "device"]
    assert list(descriptors["container_memory_failures_total"].label_keys) == [
        *base,
        "failure_type",
        "scope",
    ]
    assert list(descriptors["container_blkio_device_usage_total"].label_keys) == [
        *base,
        "device",
        "major",
        "minor",
        "operation",
    ]
    assert list(descriptors["container_threads"].label_keys) == base
    listed = crictl(server.address, "metricdescs", "-o", "json").stdout
    names = {d["name"] for d in json.loads(listed)["descriptors"]}
    assert set(SERIES) <= names


def test_a_running_container_has_every_series(
    runtime: Any, docker_engine: Any, tmp_path: Path
) -> None:
    config = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(
            name="measured", uid=f"uid-{time.time_ns()}", namespace="metrics"
        ),
        log_directory=str(tmp_path),
        linux=pb.LinuxPodSandboxConfig(
            security_context=pb.LinuxSandboxSecurityContext(privileged=True)
        ),
    )
    sandbox_id = runtime.RunPodSandbox(pb.RunPodSandboxRequest(config=config)).pod_sandbox_id
    try:
        container_id = runtime.CreateContainer(
            pb.CreateContainerRequest(
                pod_sandbox_id=sandbox_id,
                sandbox_config=config,
                config=pb.ContainerConfig(
                    metadata=pb.ContainerMetadata(name="main"),
                    image=pb.ImageSpec(image=docker_engine.busybox),
                    # An interface of the pod's own (counted), a second process, a busy loop.
                    command=[
                        "sh",
                        "-c",
                        "ip link add kv0 type veth && ip link set kv0 up && "
                        "sleep 600 & while :; do echo x > /tmp/f; done",
                    ],
                    linux=pb.LinuxContainerConfig(
                        security_context=pb.LinuxContainerSecurityContext(privileged=True),
                        resources=pb.LinuxContainerResources(
                            memory_limit_in_bytes=64 * MIB,
                            cpu_period=100000,
                            cpu_quota=50000,
                            cpu_shares=512,
                        ),
                    ),
                ),
            )
        ).container_id
        runtime.StartContainer(pb.StartContainerRequest(container_id=container_id))
        started = runtime.ContainerStatus(
            pb.ContainerStatusRequest(container_id=container_id)
        ).status.started_at

        def sampled() -> Any:
            answer = runtime.ListPodSandboxMetrics(pb.ListPodSandboxMetricsRequest())
            pod = next(p for p in answer.pod_metrics if p.pod_sandbox_id == sandbox_id)
            containers = {c.container_id: c for c in pod.container_metrics}
            found = {m.name: m for m in containers[container_id].metrics}
            threads = found.get("container_threads")
            ready = (
                threads is not None
                and threads.value.value >= 2
                and {m.name for m in pod.metrics} >= NETWORK_SERIES
            )
            return (pod, containers[container_id]) if ready else None

        result = eventually(sampled, timeout=20, interval=0.02)
        assert result, "the container's processes and interface did not show within 20 s"
        pod, container = result
        by_name = {m.name: m for m in container.metrics}
        missing = set(SERIES) - NETWORK_SERIES - IO_SERIES - set(by_name)
        assert not missing, missing
        for metric in (*pod.metrics, *container.metrics):
            if metric.name in SERIES:
                assert metric.metric_type == CADVISOR_TYPES[metric.name], metric.name
                assert len(metric.label_values) == 5 + len(SERIES[metric.name][2]), metric
        labels = list(by_name["container_threads"].label_values)
        assert labels == ["main", container_id, docker_engine.busybox, "metrics", "measured"]

        def value(name: str) -> int:
            return int(by_name[name].value.value)

        assert value("container_spec_memory_limit_bytes") == 64 * MIB
        assert value("container_spec_cpu_period") == 100000
        assert value("container_spec_cpu_shares") == 512
        assert value("container_start_time_seconds") == started // 1_000_000_000
        assert value("container_last_seen") >= started // 1_000_000_000
        assert value("container_file_descriptors") >= 3  # sh's stdio at least
        assert value("container_fs_limit_bytes") > 0 and value("container_fs_inodes_total") > 0
        failures = {
            tuple(m.label_values[5:])
            for m in container.metrics
            if m.name == "container_memory_failures_total"
        }
        assert failures == {
            ("pgfault", "container"),
            ("pgmajfault", "container"),
            ("pgfault", "hierarchy"),
            ("pgmajfault", "hierarchy"),
        }
        interfaces = {m.label_values[5] for m in pod.metrics if m.name in NETWORK_SERIES}
        assert {"kv0", "veth0"} <= interfaces
    finally:
        runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id))


def test_cgroup_v2_files_give_the_same_series(tmp_path: Path) -> None:
    """This host is cgroup v1; the v2 readers run here on a v2 directory's files as the kernel
    writes them (the processes listed are this test's own, read from the real /proc)."""
    from kubert_docker.cadvisor import Sampler, container_series
    from kubert_docker.stats import CgroupPaths

    files = {
        "cpu.stat": "usage_usec 5000000\nuser_usec 3000000\nsystem_usec 2000000\n"
        "nr_periods 40\nnr_throttled 4\nthrottled_usec 2500000\n",
        "cpu.max": "50000 100000\n",
        "cpu.weight": "20\n",
        "memory.stat": "anon 100\nfile 4096\nkernel 8192\nfile_mapped 1024\n"
        "pgfault 77\npgmajfault 3\n",
        "memory.events": "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n",
        "memory.swap.current": "0\n",
        "memory.peak": "65536\n",
        "memory.max": "67108864\n",
        "memory.swap.max": "max\n",
        "io.stat": "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n",
        "pids.max": "max\n",
        "cgroup.procs": f"{os.getpid()}\n",
        "cgroup.threads": f"{os.getpid()}\n{os.getpid()}\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    sample = Sampler(labels=("c", "id", "img", "ns", "pod"), now=2_000_000_000_000_000_000)
    container_series(
        sample, CgroupPaths(v2=tmp_path), 1_000_000_000_000_000_000, str(tmp_path), 123, 4
    )
    got = {(m.name, m.label_values[5:]): m.value for m in sample.metrics}
    assert got[("container_cpu_user_seconds_total", ())] == 3
    assert got[("container_cpu_system_seconds_total", ())] == 2
    assert got[("container_cpu_cfs_periods_total", ())] == 40
    assert got[("container_cpu_cfs_throttled_periods_total", ())] == 4
    assert got[("container_cpu_cfs_throttled_seconds_total", ())] == 2
    assert got[("container_spec_cpu_period", ())] == 100000
    assert got[("container_spec_cpu_shares", ())] == 2 + 19 * 262142 // 9999
    assert got[("container_memory_cache", ())] == 4096
    assert got[("container_memory_kernel_usage", ())] == 8192
    assert got[("container_memory_mapped_file", ())] == 1024
    assert got[("container_memory_failcnt", ())] == 5
    assert got[("container_oom_events_total", ())] == 1
    assert got[("container_memory_max_usage_bytes", ())] == 65536
    assert got[("container_spec_memory_limit_bytes", ())] == 67108864
    assert got[("container_spec_memory_swap_limit_bytes", ())] == 0
    assert got[("container_memory_failures_total", ("pgmajfault", "hierarchy"))] == 3
    assert got[("container_threads", ())] == 2
    assert got[("container_threads_max", ())] == 0
    assert got[("container_file_descriptors", ())] > 0
    assert got[("container_start_time_seconds", ())] == 1_000_000_000
    assert got[("container_last_seen", ())] == 2_000_000_000
    assert got[("container_fs_usage_bytes", (str(tmp_path),))] == 123
    device = next(k[1][0] for k in got if k[0] == "container_fs_reads_bytes_total")
    assert got[("container_fs_reads_bytes_total", (device,))] == 4096
    assert got[("container_fs_writes_total", (device,))] == 2
    assert got[("container_blkio_device_usage_total", (device, "8", "0", "Write"))] == 8192
