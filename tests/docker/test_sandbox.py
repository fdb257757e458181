"""Sandboxes on the real engine: namespaces, hostname, DNS, sysctls, naming, labels, netns."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import kubert
from kubert_docker import naming

pytestmark = pytest.mark.docker


def test_dockershim_name_and_labels_on_the_pause_container(pods: Any, docker_client: Any) -> None:
    metadata = kubert.PodSandboxMetadata(name="web", uid="uid-names", namespace="shop", attempt=2)
    labels = {"app": "web", naming.TYPE_LABEL: "user-value", "annotation.x": "looks-internal"}
    annotations = {"a.io/note": "hi", naming.META_LABEL: "user"}
    sandbox_id = pods.sandbox(
        pods.sandbox_config(metadata=metadata, labels=labels, annotations=annotations)
    )
    inspect = docker_client.api.inspect_container(sandbox_id)
    assert inspect["Name"] == "/k8s_POD_web_shop_uid-names_2"
    engine_labels = inspect["Config"]["Labels"]
    assert engine_labels[naming.TYPE_LABEL] == naming.TYPE_SANDBOX
    assert engine_labels["app"] == "web"
    assert engine_labels["annotation.a.io/note"] == "hi"
    # CRI answers carry exactly what was given, colliding keys included.
    status = pods.runtime.sandbox_status(sandbox_id)
    assert status.labels == labels and status.annotations == annotations
    assert status.metadata == metadata
    [entry] = pods.runtime.list_sandboxes(kubert.PodSandboxFilter(id=sandbox_id))
    assert entry.labels == labels and entry.annotations == annotations


def test_sandbox_without_image_config_runs_pause_with_network_none(
    pods: Any, docker_client: Any
) -> None:
    sandbox_id = pods.sandbox()
    inspect = docker_client.api.inspect_container(sandbox_id)
    assert inspect["HostConfig"]["NetworkMode"] == "none"
    assert inspect["HostConfig"]["IpcMode"] == "shareable"
    assert inspect["State"]["Running"]
    assert pods.runtime.sandbox_status(sandbox_id).state == kubert.PodSandboxState.SANDBOX_READY


def test_hostname_dns_and_sysctls_seen_from_a_container(pods: Any) -> None:
    config = pods.sandbox_config(
        hostname="pod-host",
        dns_config=kubert.DNSConfig(servers=("10.96.0.10",), searches=("ns.svc.cluster.local",),
                               options=("ndots:5",)),
        linux=kubert.LinuxPodSandboxConfig(sysctls={"net.ipv4.ip_unprivileged_port_start": "80"}),
    )
    sandbox_id = pods.sandbox(config)
    cid = pods.container(sandbox_id, "sleep", "60")
    assert pods.exec(cid, "hostname").strip() == "pod-host"
    resolv = pods.exec(cid, "cat /etc/resolv.conf").splitlines()
    assert "nameserver 10.96.0.10" in resolv
    assert "search ns.svc.cluster.local" in resolv
    assert "options ndots:5" in resolv
    port_start = pods.exec(cid, "cat /proc/sys/net/ipv4/ip_unprivileged_port_start")
    assert port_start.strip() == "80"


def _ns(pods: Any, cid: str, kind: str) -> str:
    return pods.exec(cid, f"readlink /proc/self/ns/{kind}").strip()


def test_containers_share_the_sandbox_network_ipc_and_pid_namespaces(pods: Any) -> None:
    sandbox_id = pods.sandbox()
    first = pods.container(sandbox_id, "sleep", "60", name="one")
    second = pods.container(sandbox_id, "sleep", "60", name="two")
    for kind in ("net", "ipc", "pid"):
        assert _ns(pods, first, kind) == _ns(pods, second, kind), kind
    # As under dockershim, each container has its own UTS namespace with the pod's hostname.
    assert pods.exec(first, "hostname") == pods.exec(second, "hostname")
    # PID namespace POD: the pause process is PID 1 and both sleeps are visible.
    processes = pods.exec(first, "ps -o pid,args")
    assert "/pause" in processes or "sleep 3600" in processes
    assert processes.count("sleep 60") == 2
    pause_pid = pods.runtime._sandbox(sandbox_id).pid
    assert os.readlink(f"/proc/{pause_pid}/ns/net") == _ns(pods, first, "net")


def test_pid_namespace_container_keeps_processes_apart(pods: Any) -> None:
    sandbox_id = pods.sandbox()
    sc = kubert.LinuxContainerSecurityContext(
        namespace_options=kubert.NamespaceOption(pid=kubert.NamespaceMode.CONTAINER)
    )
    own = pods.container(sandbox_id, "sleep", "61", name="own",
                         linux=kubert.LinuxContainerConfig(security_context=sc))
    shared = pods.container(sandbox_id, "sleep", "62", name="shared")
    assert _ns(pods, own, "pid") != _ns(pods, shared, "pid")
    assert "sleep 62" not in pods.exec(own, "ps -o args")
    assert _ns(pods, own, "net") == _ns(pods, shared, "net")


def test_host_network_sandbox_uses_the_node_netns(pods: Any) -> None:
    ns = kubert.NamespaceOption(network=kubert.NamespaceMode.NODE)
    config = pods.sandbox_config(
        linux=kubert.LinuxPodSandboxConfig(
            security_context=kubert.LinuxSandboxSecurityContext(namespace_options=ns)
        )
    )
    sandbox_id = pods.sandbox(config)
    cid = pods.container(sandbox_id, "sleep", "60")
    assert _ns(pods, cid, "net") == os.readlink("/proc/self/ns/net")
    assert pods.runtime.sandbox_netns_path(sandbox_id) == ""
    assert pods.runtime.sandbox_status(sandbox_id).linux.namespaces.options.network == (
        kubert.NamespaceMode.NODE
    )


def test_netns_path_is_stable_valid_after_start_and_gone_after_stop(pods: Any) -> None:
    config = pods.sandbox_config()
    created = pods.runtime.create_sandbox(config, "")
    pods.sandboxes.append(created.id)
    pods.configs[created.id] = config
    assert created.netns_path
    assert not os.path.exists(created.netns_path)
    pods.runtime.start_sandbox(created.id)
    assert pods.runtime.sandbox_netns_path(created.id) == created.netns_path
    cid = pods.container(created.id, "sleep", "60")
    assert os.stat(created.netns_path).st_ino == os.stat(
        f"/proc/{pods.runtime._container(cid).pid}/ns/net"
    ).st_ino
    pods.runtime.stop_sandbox(created.id)
    assert not os.path.lexists(created.netns_path)
    assert pods.runtime.sandbox_netns_path(created.id) == ""


def test_sandbox_oom_score_adj_is_clamped_to_what_the_host_allows(
    pods: Any, docker_engine: Any, docker_client: Any
) -> None:
    sandbox_id = pods.sandbox()
    pid = docker_client.api.inspect_container(sandbox_id)["State"]["Pid"]
    value = int(Path(f"/proc/{pid}/oom_score_adj").read_text())
    if docker_engine.negative_oom_score_adj_works and pods.runtime.oom_floor is None:
        assert value == -998  # dockershim's sandbox value
    else:
        assert value == pods.runtime.oom_floor


def test_port_mappings_and_cgroup_parent_are_recorded(pods: Any, docker_client: Any) -> None:
    ports = (kubert.PortMapping(container_port=80, host_port=8080),
             kubert.PortMapping(protocol=kubert.Protocol.UDP, container_port=53, host_port=5353))
    config = pods.sandbox_config(
        port_mappings=ports, linux=kubert.LinuxPodSandboxConfig(cgroup_parent="/kubert-test-pods")
    )
    sandbox_id = pods.sandbox(config)
    record = pods.runtime._sandbox(sandbox_id)
    assert record.meta.extra["port_mappings"][1] == {
        "protocol": 1, "container_port": 53, "host_port": 5353, "host_ip": ""
    }
    cgroup = Path(f"/proc/{record.pid}/cgroup").read_text()
    assert f"/kubert-test-pods/{sandbox_id}" in cgroup


def test_unknown_runtime_handler_is_refused_by_name(pods: Any) -> None:
    with pytest.raises(kubert.InvalidArgumentError, match="runtime_handler"):
        pods.runtime.create_sandbox(pods.sandbox_config(), "no-such-runtime")


def test_duplicate_sandbox_metadata_is_already_exists(pods: Any) -> None:
    config = pods.sandbox_config()
    pods.sandbox(config)
    with pytest.raises(kubert.AlreadyExistsError):
        pods.runtime.create_sandbox(config, "")


def test_stopped_sandbox_is_never_started_again(pods: Any) -> None:
    sandbox_id = pods.sandbox()
    pods.runtime.stop_sandbox(sandbox_id)
    assert pods.runtime.sandbox_status(sandbox_id).state == kubert.PodSandboxState.SANDBOX_NOTREADY
    with pytest.raises(kubert.FailedPreconditionError):
        pods.runtime.start_sandbox(sandbox_id)


def test_runtime_handler_maps_to_a_docker_runtime(
    docker_engine: Any, docker_client: Any, tmp_path: Path
) -> None:
    from tests.fixtures.docker_helpers import PodMaker, make_runtime

    runtime = make_runtime(docker_engine, tmp_path / "root", runtime_handlers=["fast=runc"])
    pods = PodMaker(runtime, docker_engine, tmp_path / "logs")
    try:
        assert {"", "fast", "runc"} <= {h.name for h in runtime.runtime_handlers()}
        config = pods.sandbox_config()
        created = runtime.create_sandbox(config, "fast")
        pods.sandboxes.append(created.id)
        pods.configs[created.id] = config
        runtime.start_sandbox(created.id)
        cid = pods.container(created.id, "sleep", "60")
        for ident in (created.id, cid):
            assert docker_client.api.inspect_container(ident)["HostConfig"]["Runtime"] == "runc"
        assert runtime.sandbox_status(created.id).runtime_handler == "fast"
    finally:
        pods.cleanup()
        runtime.close()


def test_pod_files_without_the_engine_network_sandbox(
    pods: Any, docker_client: Any, tmp_path: Path
) -> None:
    """The pause container has no engine network sandbox; kubert gives the pod the resolv.conf
    and hosts the engine would have (the host's nameservers without loopback ones), and a
    file the container config mounts itself wins."""
    from kubert_docker.podfiles import DEFAULT_HOSTS, host_resolv_conf

    sandbox_id = pods.sandbox()
    inspect = docker_client.api.inspect_container(sandbox_id)
    assert inspect["Config"]["NetworkDisabled"] is True
    assert inspect["NetworkSettings"]["SandboxKey"] == ""
    cid = pods.container(sandbox_id, "sleep", "60")
    assert pods.exec(cid, "cat /etc/resolv.conf") == host_resolv_conf()
    assert pods.exec(cid, "cat /etc/hosts") == DEFAULT_HOSTS
    assert "UP" in pods.exec(cid, "ip link show lo")

    managed = tmp_path / "etc-hosts"
    managed.write_text("10.1.2.3\tmanaged\n")
    own = pods.container(
        sandbox_id, "sleep", "60", name="own",
        mounts=(kubert.Mount(container_path="/etc/hosts", host_path=str(managed)),),
    )
    assert pods.exec(own, "cat /etc/hosts") == "10.1.2.3\tmanaged\n"
    files = pods.runtime.pod_files.directory(sandbox_id)
    assert sorted(p.name for p in files.iterdir()) == ["hosts", "resolv.conf"]
    pods.runtime.stop_sandbox(sandbox_id)
    pods.runtime.remove_sandbox(sandbox_id)
    assert not files.exists()
