"""Probes of every kind against real containers: ``kubert serve`` over a unix socket, runtime
``docker`` (a private dockerd), network ``cni`` (a real bridge), busybox httpd in the pod.

httpGet, tcpSocket and exec probes go to the pod's containers; the gRPC probe goes to a real
gRPC health server on loopback (busybox has none). The prober runs apart from syncs: the test
calls ``run_due`` and moves the FakeClock, syncs only read the results.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest

from kubert.kubelet import FakeClock, KubeletConfig, Pod, RuntimeManager, load_pods, run_probe
from kubert.kubelet.podstatus import pod_view
from kubert.kubelet.probes import FAILURE, LIVENESS, READINESS, STARTUP, SUCCESS
from tests.cni.helpers import PrivateNet
from tests.fixtures.polling import eventually

from .conftest import private_cni

pytestmark = [pytest.mark.docker, pytest.mark.cni]


@pytest.fixture
def probe_net(tmp_path: Path) -> Iterator[PrivateNet]:
    """A private bridge and /24 for this file (10.247.x.0/24)."""
    with private_cni(tmp_path, "kbtpr", "10.247") as net:
        yield net


def manifest(busybox: str) -> Pod:
    return load_pods(f"""
metadata: {{name: probed, namespace: e2e}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: web
    image: {busybox}
    imagePullPolicy: Never
    command: [sh, -c, "mkdir -p /www && echo ok > /www/healthz && exec httpd -f -p 8080 -h /www"]
    ports: [{{containerPort: 8080, name: http}}]
    startupProbe: {{exec: {{command: [test, -f, /www/healthz]}}, periodSeconds: 1,
                    failureThreshold: 30}}
    readinessProbe: {{httpGet: {{port: http, path: /healthz}}, periodSeconds: 1}}
    livenessProbe: {{tcpSocket: {{port: 8080}}, periodSeconds: 1}}
  - name: unready
    image: {busybox}
    imagePullPolicy: Never
    command: [sh, -c, "mkdir -p /www && exec httpd -f -p 8081 -h /www"]
    readinessProbe: {{httpGet: {{port: 8081, path: /missing}}, periodSeconds: 1}}
  - name: deaf
    image: {busybox}
    imagePullPolicy: Never
    command: [sleep, "3600"]
    livenessProbe: {{tcpSocket: {{port: 9999}}, periodSeconds: 1, failureThreshold: 2}}
""")[0]


def test_exec_http_and_tcp_probes_decide_readiness_and_restarts(
    clean_engine: Any,
    cri_server_factory: Callable[..., Any],
    probe_net: PrivateNet,
    tmp_path: Path,
) -> None:
    server = cri_server_factory(**probe_net.docker_server_args(clean_engine))
    cri = server.client()
    clock = FakeClock(current=time.time())
    manager = RuntimeManager(
        cri, KubeletConfig(root_dir=tmp_path / "kubelet", log_root=tmp_path / "logs"), clock
    )
    pod = manifest(clean_engine.busybox)
    try:
        manager.sync_pod(pod)
        status = manager.observe(pod.uid)
        assert {c.name for c in status.running_containers()} == {"web", "unready", "deaf"}
        ids = {c.name: c.id for c in status.containers}

        def probe_round() -> None:
            clock.advance(1)
            manager.probes.run_due()

        def result(name: str, kind: str) -> str | None:
            return manager.probes.result(ids[name], kind)

        # a sync does not probe: nothing has run yet
        manager.sync_pod(pod)
        assert manager.probes.worker(ids["web"], STARTUP).runs == 0  # type: ignore[union-attr]
        assert eventually(
            lambda: probe_round() or result("web", READINESS) == SUCCESS, timeout=30, interval=0.2
        ), manager.probes.worker(ids["web"], READINESS)
        assert result("web", STARTUP) == SUCCESS and result("web", LIVENESS) == SUCCESS
        assert result("unready", READINESS) == FAILURE
        unready = manager.probes.worker(ids["unready"], READINESS)
        assert unready is not None and "statuscode: 404" in unready.message
        assert result("deaf", LIVENESS) == FAILURE

        manager.sync_pod(pod)  # the deaf container's liveness failed: killed and restarted
        after = manager.observe(pod.uid)
        deaf = after.find("deaf")
        assert deaf is not None and deaf.id != ids["deaf"] and deaf.restart_count == 1
        assert after.find("web").id == ids["web"]  # type: ignore[union-attr]
        readiness = {c.id: manager.probes.ready(c.id) for c in after.running_containers()}
        view = pod_view(pod, after, readiness=readiness)
        ready = {c.name: c.ready for c in view.containers}
        assert ready == {"web": True, "unready": False, "deaf": True}
        conditions = {c.type: c for c in view.conditions}
        assert conditions["ContainersReady"].status == "False"
        assert "unready" in conditions["ContainersReady"].message
        assert conditions["Ready"].status == "False"
        assert conditions["Initialized"].status == "True"
        assert conditions["PodReadyToStartContainers"].status == "True"
    finally:
        manager.delete_pod(pod.uid, pod)
        cri.close()


SERVING, NOT_SERVING = b"\x08\x01", b"\x08\x02"


def test_grpc_probe_asks_the_health_service(tmp_path: Path) -> None:
    """A real gRPC server answering grpc.health.v1.Health/Check: SERVING for "", NOT_SERVING
    for service "sick"; an empty (unknown) one gives a failure too."""

    def check(request: bytes, context: grpc.ServicerContext) -> bytes:
        return NOT_SERVING if b"sick" in request else SERVING

    handler = grpc.method_handlers_generic_handler(
        "grpc.health.v1.Health",
        {"Check": grpc.unary_unary_rpc_method_handler(check, lambda b: b, lambda b: b)},
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        probes = load_pods(
            f"""
metadata: {{name: g}}
spec:
  containers:
  - name: a
    image: busybox:1.36
    livenessProbe: {{grpc: {{port: {port}}}}}
    readinessProbe: {{grpc: {{port: {port}, service: sick}}}}
    startupProbe: {{grpc: {{port: 1}}}}
"""
        )[0].spec.containers[0]
        assert probes.liveness_probe and probes.readiness_probe and probes.startup_probe
        ok, message = run_probe(None, "", probes.liveness_probe, "127.0.0.1")  # type: ignore[arg-type]
        assert ok and "SERVING" in message
        ok, message = run_probe(None, "", probes.readiness_probe, "127.0.0.1")  # type: ignore[arg-type]
        assert not ok and "status 2" in message
        ok, _ = run_probe(None, "", probes.startup_probe, "127.0.0.1")  # type: ignore[arg-type]
        assert not ok  # nothing listens on port 1
    finally:
        server.stop(None)
