"""The kubelet side on real parts: ``kubert serve``'s CRI server over a unix socket, runtime
``docker`` (a private dockerd) and network ``cni`` (real bridge + host-local plugins).

A pod with an init container, a sidecar and two containers runs and has an IP from the test's
subnet; the init container's output is seen through an emptyDir; a crashing container is
restarted with CrashLoopBackOff (timed by a FakeClock, so nothing sleeps for it); its log is
read through ContainerStatus.log_path; the pod is deleted with nothing left behind.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kubert.kubelet import FakeClock, KubeletConfig, Pod, RuntimeManager, load_pods
from kubert.kubelet.cli.logs import parse_line
from kubert.kubelet.podstatus import pod_view
from kubert.model import ContainerFilter, ContainerState
from tests.cni.helpers import PrivateNet, bridge_net
from tests.fixtures.polling import eventually

pytestmark = [pytest.mark.docker, pytest.mark.cni]

@pytest.fixture
def kubelet_net(tmp_path: Path) -> Iterator[PrivateNet]:
    """A private bridge and /24 for this test (10.245.x.0/24, away from the CNI tests' range)."""
    plugins = ("bridge", "host-local", "loopback", "portmap")
    with bridge_net(tmp_path, "kbtkl", "10.245", plugins, "10-kubelet.conflist") as net:
        yield net


def manifest(busybox: str) -> Pod:
    return load_pods(f"""
apiVersion: v1
kind: Pod
metadata: {{name: shop, namespace: e2e, labels: {{tier: front}}}}
spec:
  terminationGracePeriodSeconds: 2
  volumes: [{{name: shared, emptyDir: {{}}}}]
  initContainers:
  - name: setup
    image: {busybox}
    imagePullPolicy: Never
    command: [sh, -c, "echo prepared > /shared/ready"]
    volumeMounts: [{{name: shared, mountPath: /shared}}]
  - name: proxy
    image: {busybox}
    imagePullPolicy: Never
    restartPolicy: Always
    command: [sleep, "3600"]
  containers:
  - name: app
    image: {busybox}
    imagePullPolicy: Never
    command: [sleep, "3600"]
    env:
    - {{name: POD, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}
    - {{name: TIER, valueFrom: {{fieldRef: {{fieldPath: "metadata.labels['tier']"}}}}}}
    - {{name: GREETING, value: "hello $(POD)"}}
    volumeMounts: [{{name: shared, mountPath: /shared, readOnly: true}}]
    livenessProbe: {{exec: {{command: [test, -f, /shared/ready]}}, periodSeconds: 1}}
  - name: crasher
    image: {busybox}
    imagePullPolicy: Never
    command: [sh, -c, "echo crash number $RANDOM; exit 3"]
""")[0]


def test_pod_with_init_sidecar_and_crasher_runs_restarts_and_is_deleted(
    clean_engine: Any,
    cri_server_factory: Callable[..., Any],
    kubelet_net: PrivateNet,
    tmp_path: Path,
) -> None:
    server = cri_server_factory(**kubelet_net.docker_server_args(clean_engine))
    cri = server.client()
    clock = FakeClock()
    manager = RuntimeManager(
        cri, KubeletConfig(root_dir=tmp_path / "kubelet", log_root=tmp_path / "logs"), clock
    )
    pod = manifest(clean_engine.busybox)
    lines: list[str] = []

    def sync() -> None:
        manager.sync_pod(pod, progress=lines.append)
        clock.advance(1)

    def running(name: str) -> bool:
        current = manager.observe(pod.uid).find(name)
        return current is not None and current.running

    try:
        sync()  # sandbox + init container
        assert eventually(
            lambda: manager.observe(pod.uid).find("setup").state == ContainerState.CONTAINER_EXITED,
            timeout=30, interval=0.1,
        ), "timed out waiting for the init container to finish"
        sync()  # sidecar
        assert running("proxy")
        sync()  # regular containers
        assert running("app")
        status = manager.observe(pod.uid)
        assert len(status.sandboxes) == 1
        ip = status.ips[0]
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(kubelet_net.subnet)
        assert any(f"created, IP {ip}" in line for line in lines)

        app = status.find("app")
        env = cri.exec_sync(app.id, ["env"], timeout=10).stdout.decode()
        assert "POD=shop" in env and "TIER=front" in env and "GREETING=hello shop" in env
        shared = cri.exec_sync(app.id, ["cat", "/shared/ready"], timeout=10)
        assert shared.stdout.decode().strip() == "prepared"
        seen = cri.exec_sync(app.id, ["ip", "-o", "-4", "addr", "show", "eth0"], timeout=10)
        assert f"inet {ip}/" in seen.stdout.decode()
        hosts = cri.exec_sync(app.id, ["cat", "/etc/hosts"], timeout=10).stdout.decode()
        assert f"{ip}\tshop" in hosts

        # The crasher: first restart at once, then CrashLoopBackOff for 10 s, then 20 s.
        def crasher_exited() -> bool:
            current = manager.observe(pod.uid).find("crasher")
            return current is not None and current.state == ContainerState.CONTAINER_EXITED

        assert eventually(crasher_exited, timeout=30, interval=0.1), (
            "timed out waiting for the crasher to exit")
        sync()
        first_restart = manager.observe(pod.uid).find("crasher")
        assert first_restart.restart_count == 1
        assert eventually(crasher_exited, timeout=30, interval=0.1), (
            "timed out waiting for the crasher to exit again")
        sync()
        view = pod_view(
            pod,
            manager.observe(pod.uid),
            {n: v for (u, n), v in manager.waiting.items() if u == pod.uid},
        )
        crasher = next(c for c in view.containers if c.name == "crasher")
        assert crasher.state == "waiting" and crasher.reason == "CrashLoopBackOff"
        assert view.status == "CrashLoopBackOff" and view.phase == "Running"
        assert manager.observe(pod.uid).find("crasher").restart_count == 1
        clock.advance(10)
        sync()
        assert manager.observe(pod.uid).find("crasher").restart_count == 2

        log_path = Path(manager.observe(pod.uid).find("crasher").status.log_path)
        assert eventually(lambda: log_path.exists() and log_path.read_text(), timeout=30,
                          interval=0.1), "timed out waiting for the crasher's log"
        stream, text = parse_line(log_path.read_text().splitlines()[0])[1::2]
        assert stream == "stdout" and text.startswith("crash number")
        assert str(log_path).startswith(str(tmp_path / "logs" / f"e2e_shop_{pod.uid}"))

        # Garbage collection keeps the newest instance and the newest dead one per name.
        crashers = manager.observe(pod.uid).all_named("crasher")
        assert [c.restart_count for c in crashers] == [2, 1]

        # Everything else kept running in the same sandbox through all of this.
        assert manager.observe(pod.uid).find("app").id == app.id
        assert len(manager.observe(pod.uid).sandboxes) == 1
    finally:
        manager.delete_pod(pod.uid, pod)
    assert manager.observe(pod.uid).sandboxes == ()
    assert (
        cri.list_containers(ContainerFilter(label_selector={"io.kubernetes.pod.uid": pod.uid}))
        == []
    )
    assert kubelet_net.leases() == []
    assert not (tmp_path / "kubelet" / "pods" / pod.uid).exists()
    assert not (tmp_path / "logs" / f"e2e_shop_{pod.uid}").exists()
    cri.close()
