"""Containers on the real engine, observed from inside them and through the CRI answers."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kubert
from tests.fixtures.docker_helpers import make_runtime
from tests.fixtures.polling import eventually

pytestmark = pytest.mark.docker


def _exited(pods: Any, cid: str) -> kubert.ContainerStatus:
    status = eventually(
        lambda: (s := pods.runtime.container_status(cid)).state
        == kubert.ContainerState.CONTAINER_EXITED and s, timeout=10, interval=0.02
    )
    assert status, pods.runtime.container_status(cid)
    return status


def _log_lines(path: str) -> list[str]:
    return [line.split(" ", 3)[3] for line in Path(path).read_text().splitlines()]


def test_command_and_args_map_to_entrypoint_and_cmd(pods: Any, docker_engine: Any) -> None:
    sandbox_id = pods.sandbox()
    # args alone replace the image's CMD; command replaces the entrypoint (and the CMD).
    only_args = pods.container(sandbox_id, name="a", args=("echo", "from-args"))
    command = pods.container(sandbox_id, "echo", name="b", args=("x", "y"))
    # The pause image has an ENTRYPOINT: args alone are appended to it, not run.
    pause = kubert.ImageSpec(image=docker_engine.pause)
    with_entrypoint = pods.container(sandbox_id, name="c", image=pause, args=("ignored",))
    for cid in (only_args, command):
        _exited(pods, cid)
    assert _log_lines(pods.runtime.container_status(only_args).log_path) == ["from-args"]
    assert _log_lines(pods.runtime.container_status(command).log_path) == ["x y"]
    assert pods.runtime.container_status(with_entrypoint).state == (
        kubert.ContainerState.CONTAINER_RUNNING
    )


def test_env_working_dir_and_tty(pods: Any) -> None:
    cid = pods.run(
        "sleep", "60",
        envs=(kubert.KeyValue(key="GREETING", value="hello world"), kubert.KeyValue(key="EMPTY")),
        working_dir="/tmp", tty=True, stdin=True,
    )
    assert pods.exec(cid, 'echo "$GREETING|${EMPTY-unset}|$(pwd)"').strip() == (
        "hello world||/tmp"
    )
    assert pods.exec(cid, "[ -t 0 ] && echo tty || echo notty").strip() == "notty"
    # The main process (not PID 1: that is the pod's pause) has the terminal.
    assert pods.exec(cid, "readlink /proc/$(pidof sleep)/fd/0").startswith("/dev/pts/")


@pytest.fixture
def shared_mount(tmp_path: Path) -> Iterator[Path]:
    """A directory that is a shared mount point (as a kubelet node's / is), unmounted after."""
    point = tmp_path / "shared-mount"
    point.mkdir()
    subprocess.run(["mount", "--bind", str(point), str(point)], check=True)
    try:
        subprocess.run(["mount", "--make-rshared", str(point)], check=True)
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


def test_mounts_readonly_and_missing_host_path(pods: Any, tmp_path: Path) -> None:
    shared = tmp_path / "data"
    shared.mkdir()
    (shared / "file").write_text("from host")
    missing = tmp_path / "created" / "by" / "runtime"
    mounts = (
        kubert.Mount(container_path="/ro", host_path=str(shared), readonly=True),
        kubert.Mount(container_path="/new", host_path=str(missing)),
    )
    cid = pods.run("sleep", "60", mounts=mounts)
    assert pods.exec(cid, "cat /ro/file") == "from host"
    denied = pods.runtime.exec_sync(cid, ["sh", "-c", "echo x > /ro/other"], 10)
    assert denied.exit_code != 0 and b"Read-only" in denied.stderr
    assert missing.is_dir()
    pods.exec(cid, "echo written > /new/f")
    assert (missing / "f").read_text() == "written\n"
    assert pods.runtime.container_status(cid).mounts == mounts


def test_mount_propagation_host_to_container_and_bidirectional(
    pods: Any, shared_mount: Path, docker_client: Any
) -> None:
    slave, both = shared_mount / "slave", shared_mount / "both"
    slave.mkdir()
    both.mkdir()
    mounts = (
        kubert.Mount(container_path="/slave", host_path=str(slave),
                propagation=kubert.MountPropagation.PROPAGATION_HOST_TO_CONTAINER),
        kubert.Mount(container_path="/both", host_path=str(both),
                propagation=kubert.MountPropagation.PROPAGATION_BIDIRECTIONAL),
    )
    cid = pods.run("sleep", "60", mounts=mounts)
    # The pod's own resolv.conf and hosts (kubert_docker.podfiles) are binds too.
    propagation = {m["Destination"]: m["Propagation"]
                   for m in docker_client.api.inspect_container(cid)["Mounts"]
                   if m["Destination"] not in ("/etc/resolv.conf", "/etc/hosts")}
    assert propagation == {"/slave": "rslave", "/both": "rshared"}
    # A mount made on the host after start appears in the container (host to container).
    (slave / "late").mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(slave / "late")], check=True)
    try:
        (slave / "late" / "seen").write_text("yes")
        assert pods.exec(cid, "cat /slave/late/seen") == "yes"
    finally:
        subprocess.run(["umount", str(slave / "late")], check=False)


def test_bind_path_with_a_colon_is_refused_by_field(pods: Any) -> None:
    sandbox_id = pods.sandbox()
    config = pods.container_config(
        "true", mounts=(kubert.Mount(container_path="/x", host_path="/tmp/a:b"),)
    )
    with pytest.raises(kubert.InvalidArgumentError, match=r"mounts\[0\]\.host_path"):
        pods.runtime.create_container(sandbox_id, config, pods.configs[sandbox_id])


def test_devices(pods: Any) -> None:
    device = kubert.Device(
        container_path="/dev/kubert-null", host_path="/dev/null", permissions="rw"
    )
    cid = pods.run("sleep", "60", devices=(device,))
    assert pods.exec(cid, "ls -l /dev/kubert-null").startswith("c")
    pods.exec(cid, "echo discard > /dev/kubert-null")


def _cgroup(pods: Any, cid: str, path: str) -> str:
    return pods.exec(cid, f"cat /sys/fs/cgroup/{path}").strip()


def test_resources_at_create_and_update(pods: Any) -> None:
    resources = kubert.LinuxContainerResources(
        cpu_shares=512,
        cpu_quota=50000,
        cpu_period=100000,
        cpuset_cpus="0",
        memory_limit_in_bytes=64 * 1024 * 1024,
    )
    cid = pods.run("sleep", "60", linux=kubert.LinuxContainerConfig(resources=resources))
    assert _cgroup(pods, cid, "cpu/cpu.shares") == "512"
    assert _cgroup(pods, cid, "cpu/cpu.cfs_quota_us") == "50000"
    assert _cgroup(pods, cid, "cpuset/cpuset.cpus") == "0"
    assert _cgroup(pods, cid, "memory/memory.limit_in_bytes") == str(64 * 1024 * 1024)
    swap = Path("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
    if swap.exists():  # swap accounting on: no swap beyond the memory limit
        assert _cgroup(pods, cid, "memory/memory.memsw.limit_in_bytes") == str(64 * 1024 * 1024)
    updated = kubert.LinuxContainerResources(cpu_shares=256, memory_limit_in_bytes=96 * 1024 * 1024)
    pods.runtime.update_container_resources(cid, updated)
    assert _cgroup(pods, cid, "cpu/cpu.shares") == "256"
    assert _cgroup(pods, cid, "memory/memory.limit_in_bytes") == str(96 * 1024 * 1024)
    reported = pods.runtime.container_status(cid).resources.linux
    assert (reported.cpu_shares, reported.memory_limit_in_bytes) == (256, 96 * 1024 * 1024)


def test_oom_score_adj_clamped_and_positive_kept(pods: Any, docker_engine: Any) -> None:
    sandbox_id = pods.sandbox()
    low = pods.container(
        sandbox_id,
        "sleep",
        "60",
        name="low",
        linux=kubert.LinuxContainerConfig(
            resources=kubert.LinuxContainerResources(oom_score_adj=-500)
        ),
    )
    high = pods.container(
        sandbox_id,
        "sleep",
        "60",
        name="high",
        linux=kubert.LinuxContainerConfig(
            resources=kubert.LinuxContainerResources(oom_score_adj=700)
        ),
    )
    assert pods.exec(high, "cat /proc/self/oom_score_adj").strip() == "700"
    low_value = int(pods.exec(low, "cat /proc/1/oom_score_adj"))
    if pods.runtime.oom_floor is None:
        assert low_value == -500
    else:
        assert low_value == max(-500, pods.runtime.oom_floor)


def test_exit_reasons_completed_error_and_oomkilled(pods: Any) -> None:
    sandbox_id = pods.sandbox()
    ok = pods.container(sandbox_id, "sh", "-c", "exit 0", name="ok")
    bad = pods.container(sandbox_id, "sh", "-c", "exit 7", name="bad")
    oom = pods.container(
        sandbox_id,
        "sh",
        "-c",
        "head -c 200m /dev/zero | tail",
        name="oom",
        linux=kubert.LinuxContainerConfig(
            resources=kubert.LinuxContainerResources(memory_limit_in_bytes=16 * 1024 * 1024)
        ),
    )
    completed, error, killed = (_exited(pods, c) for c in (ok, bad, oom))
    assert (completed.reason, completed.exit_code) == ("Completed", 0)
    assert (error.reason, error.exit_code) == ("Error", 7)
    assert killed.reason == "OOMKilled" and killed.exit_code == 137
    for status in (completed, error, killed):
        assert status.finished_at >= status.started_at > status.created_at > 0
        assert status.image_ref.startswith("sha256:")
        assert status.log_path.endswith(".log")


def test_start_failure_is_reported_as_container_cannot_run(pods: Any) -> None:
    sandbox_id = pods.sandbox()
    cid = pods.container(sandbox_id, "/no/such/binary", start=False)
    with pytest.raises(kubert.KubertError):
        pods.runtime.start_container(cid)
    status = pods.runtime.container_status(cid)
    assert status.state == kubert.ContainerState.CONTAINER_EXITED
    assert status.reason == "ContainerCannotRun" and "no/such/binary" in status.message


def test_container_needs_a_ready_sandbox_and_a_created_state(pods: Any) -> None:
    sandbox_id = pods.sandbox()
    cid = pods.container(sandbox_id, "sleep", "60")
    with pytest.raises(kubert.FailedPreconditionError):
        pods.runtime.start_container(cid)
    pods.runtime.stop_sandbox(sandbox_id)
    assert pods.runtime.container_status(cid).state == kubert.ContainerState.CONTAINER_EXITED
    with pytest.raises(kubert.FailedPreconditionError):
        pods.runtime.create_container(
            sandbox_id, pods.container_config("true", name="late"), pods.configs[sandbox_id]
        )


def test_name_left_by_a_crash_is_recovered(
    pods: Any, docker_engine: Any, docker_client: Any, tmp_path: Path
) -> None:
    """A container made under the same name by a kubert that crashed before replying is
    removed, and the new create succeeds; one this process made is AlreadyExists."""
    config = pods.sandbox_config()
    md = config.metadata
    leftover = docker_client.api.create_container(
        docker_engine.pause,
        name=f"k8s_POD_{md.name}_{md.namespace}_{md.uid}_0",
        labels={"io.kubernetes.docker.type": "podsandbox"},
        host_config=docker_client.api.create_host_config(network_mode="none"),
    )["Id"]
    sandbox_id = pods.sandbox(config)
    assert sandbox_id != leftover
    assert not docker_client.api.containers(all=True, filters={"id": leftover})
    with pytest.raises(kubert.AlreadyExistsError):
        pods.runtime.create_sandbox(config, "")


def test_node_default_cpuset_applies_when_the_pod_sets_none(
    docker_engine: Any, tmp_path: Path
) -> None:
    runtime = make_runtime(docker_engine, tmp_path / "root", default_cpuset_cpus="0")
    try:
        from tests.fixtures.docker_helpers import PodMaker

        pods = PodMaker(runtime, docker_engine, tmp_path / "logs")
        try:
            cid = pods.run("sleep", "60")
            assert _cgroup(pods, cid, "cpuset/cpuset.cpus") == "0"
        finally:
            pods.cleanup()
    finally:
        runtime.close()


def test_cgroup_driver_mismatch_is_a_clear_error(docker_engine: Any, tmp_path: Path) -> None:
    runtime = make_runtime(docker_engine, tmp_path / "root", cgroup_driver="systemd")
    try:
        condition = runtime.status()
        assert not condition.status and condition.reason == "CgroupDriverMismatch"
        assert "cgroupfs" in condition.message and "systemd" in condition.message
        config = kubert.PodSandboxConfig(
            metadata=kubert.PodSandboxMetadata(name="drv", uid="drv", namespace="t")
        )
        with pytest.raises(kubert.FailedPreconditionError, match="cgroup-driver"):
            runtime.create_sandbox(config, "")
    finally:
        runtime.close()


def test_container_made_by_cri_dockerd_is_listed_with_its_labels(
    pods: Any, docker_engine: Any, docker_client: Any
) -> None:
    """Objects without kubert's record label read the way dockershim wrote them."""
    sandbox_id = pods.sandbox()
    cid = docker_client.api.create_container(
        docker_engine.busybox,
        command=["true"],
        name="k8s_legacy_pod_ns_uid-legacy_3",
        labels={
            "io.kubernetes.docker.type": "container",
            "io.kubernetes.sandbox.id": sandbox_id,
            "team": "a",
            "annotation.note": "b",
        },
        host_config=docker_client.api.create_host_config(network_mode="none"),
    )["Id"]
    try:
        status = eventually(
            lambda: cid in pods.runtime.state.records and pods.runtime.container_status(cid),
            timeout=10,
            interval=0.02,
        )
        assert status.metadata == kubert.ContainerMetadata(name="legacy", attempt=3)
        assert status.labels == {"team": "a"} and status.annotations == {"note": "b"}
        [entry] = pods.runtime.list_containers(kubert.ContainerFilter(pod_sandbox_id=sandbox_id))
        assert entry.id == cid
    finally:
        docker_client.api.remove_container(cid, force=True)


def test_missing_host_device_path_is_not_found_or_invalid(pods: Any) -> None:
    sandbox_id = pods.sandbox()
    config = pods.container_config(
        "true", devices=(kubert.Device(container_path="/dev/x", host_path="/dev/kubert-missing"),)
    )
    with pytest.raises(kubert.KubertError):
        cid = pods.runtime.create_container(sandbox_id, config, pods.configs[sandbox_id])
        pods.runtime.start_container(cid)
    assert not os.path.exists("/dev/kubert-missing")
