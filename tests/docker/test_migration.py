"""Replacing cri-dockerd on a node: kubert takes over the pods cri-dockerd started.

The real cri-dockerd (``../shared/tools/cri-dockerd``) runs a pod with a container on the
session's private engine; it is stopped (its containers keep running, as on a node), and
``kubert serve`` starts with cri-dockerd's own command line on the same socket. The real crictl
then lists, inspects, stops and removes that pod through kubert, which recognises the engine
objects by dockershim's names and labels. The pod uses the host network so that no CNI config
is needed on either side (both run with ``--network-plugin cni`` and an empty config dir).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.core.systemd_helpers import CRI_DOCKERD, crictl, kubert

NAMESPACE_NODE = 2  # runtime.v1 NamespaceMode NODE
SYSTEM_CNI_BIN = Path("/usr/lib/cni")


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="kubert-mig-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _wait_for_socket(path: Path, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited early: {process.communicate()[0]}")
        if path.exists():
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {path}")


def _stop(process: subprocess.Popen[str]) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.communicate(timeout=60)[0]
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()[0]


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def _flags(workdir: Path, engine: Any) -> list[str]:
    """One command line for both: what a cri-docker.service ExecStart holds."""
    return [
        "--container-runtime-endpoint", f"unix://{workdir / 'cri.sock'}",
        "--docker-endpoint", engine.host,
        "--network-plugin", "cni", "--cni-conf-dir", str(workdir / "net.d"),
        "--cni-bin-dir", "/usr/lib/cni", "--cni-cache-dir", str(workdir / "cni-cache"),
        "--cri-dockerd-root-directory", str(workdir / "root"),
        "--pod-infra-container-image", engine.pause,
        "--streaming-bind-addr", "127.0.0.1", "--log-level", "info",
    ]


def _pod(workdir: Path, engine: Any, host_network: bool) -> tuple[dict[str, Any], str, str]:
    """A pod with one running container, made by cri-dockerd, which is then stopped.

    :returns: the pod config, the sandbox ID and the container ID.
    """
    (workdir / "logs").mkdir()  # the kubelet makes the pod log directory
    pod: dict[str, Any] = {
        "metadata": {"name": "legacy", "namespace": "prod", "uid": "legacy-uid", "attempt": 1},
        "labels": {"app": "legacy"}, "annotations": {"team": "ops"},
        "log_directory": str(workdir / "logs"),
    }
    if host_network:
        pod["linux"] = {"security_context": {"namespace_options": {"network": NAMESPACE_NODE}}}
    container = {
        "metadata": {"name": "app"}, "image": {"image": engine.busybox},
        "command": ["sleep", "3600"], "log_path": "app.log", "labels": {"tier": "web"},
    }
    (workdir / "pod.json").write_text(json.dumps(pod))
    (workdir / "container.json").write_text(json.dumps(container))
    sock = workdir / "cri.sock"
    endpoint = f"unix://{sock}"
    shim = subprocess.Popen([str(CRI_DOCKERD), *_flags(workdir, engine)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for_socket(sock, shim)
        sandbox_id = _ok(crictl(endpoint, "runp", str(workdir / "pod.json"))).strip()
        container_id = _ok(crictl(endpoint, "create", sandbox_id, str(workdir / "container.json"),
                                  str(workdir / "pod.json"))).strip()
        _ok(crictl(endpoint, "start", container_id))
    finally:
        _stop(shim)
    return pod, sandbox_id, container_id


@contextmanager
def _kubert_instead(workdir: Path, engine: Any) -> Iterator[str]:
    """``kubert serve`` with cri-dockerd's command line; yields the endpoint."""
    if not CRI_DOCKERD.exists():
        pytest.skip(f"cri-dockerd is not at {CRI_DOCKERD}")
    env = {k: v for k, v in os.environ.items() if k != "KUBERT_DISABLE_PLUGIN_AUTOLOAD"}
    server = subprocess.Popen(kubert("serve", *_flags(workdir, engine)), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=env)
    try:
        _wait_for_socket(workdir / "cri.sock", server)
        yield f"unix://{workdir / 'cri.sock'}"
    finally:
        output = _stop(server)
    assert server.returncode == 0, output
    assert "Traceback" not in output


def test_kubert_takes_over_a_pod_cri_dockerd_started(
    clean_engine: Any, docker_client: Any, workdir: Path
) -> None:
    if not CRI_DOCKERD.exists():
        pytest.skip(f"cri-dockerd is not at {CRI_DOCKERD}")
    (workdir / "net.d").mkdir()
    pod, sandbox_id, container_id = _pod(workdir, clean_engine, host_network=True)
    assert docker_client.api.inspect_container(container_id)["State"]["Running"]

    with _kubert_instead(workdir, clean_engine) as endpoint:
        pods = json.loads(_ok(crictl(endpoint, "pods", "-o", "json")))["items"]
        assert [(p["id"], p["state"]) for p in pods] == [(sandbox_id, "SANDBOX_READY")]
        status = json.loads(_ok(crictl(endpoint, "inspectp", sandbox_id)))["status"]
        assert status["metadata"] == pod["metadata"]
        assert status["labels"] == pod["labels"]
        assert status["annotations"] == pod["annotations"]
        containers = json.loads(_ok(crictl(endpoint, "ps", "-a", "-o", "json")))["containers"]
        assert [(c["id"], c["metadata"]["name"], c["state"]) for c in containers] == [
            (container_id, "app", "CONTAINER_RUNNING")
        ]
        inspected = json.loads(_ok(crictl(endpoint, "inspect", container_id)))["status"]
        assert inspected["labels"] == {"tier": "web"}
        assert inspected["logPath"] == str(workdir / "logs" / "app.log")

        _ok(crictl(endpoint, "stopp", sandbox_id))
        stopped = json.loads(_ok(crictl(endpoint, "pods", "-o", "json")))["items"]
        assert [p["state"] for p in stopped] == ["SANDBOX_NOTREADY"]
        assert not docker_client.api.inspect_container(container_id)["State"]["Running"]
        _ok(crictl(endpoint, "rmp", sandbox_id))
        assert json.loads(_ok(crictl(endpoint, "pods", "-o", "json")))["items"] == []
        left = docker_client.api.containers(
            all=True, filters={"label": f"io.kubernetes.sandbox.id={sandbox_id}"}
        )
        assert left == []
        assert docker_client.api.containers(all=True, filters={"id": sandbox_id}) == []


@pytest.fixture
def bridge_network(workdir: Path) -> Iterator[Path]:
    """A CNI config of this test's own: a bridge and /24 no other test uses, host-local IPAM
    under ``workdir``; the bridge is deleted afterwards. No traffic is sent."""
    if shutil.which("ip") is None or not (SYSTEM_CNI_BIN / "bridge").exists():
        pytest.skip("needs iproute2 and the CNI plugins in /usr/lib/cni")
    bridge = f"kmig{os.getpid() % 100000}"
    subnet = f"10.246.{os.getpid() % 200 + 20}.0/24"
    conf_dir = workdir / "net.d"
    conf_dir.mkdir()
    conflist = {"cniVersion": "1.0.0", "name": f"net-{bridge}", "plugins": [{
        "type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": False,
        "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]],
                 "dataDir": str(workdir / "ipam")},
    }]}
    (conf_dir / "10-migration.conflist").write_text(json.dumps(conflist))
    yield workdir / "ipam" / f"net-{bridge}"
    subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)


def test_kubert_tears_down_the_network_cri_dockerd_set_up(
    clean_engine: Any, docker_client: Any, workdir: Path, bridge_network: Path
) -> None:
    """With cri-dockerd's CNI cache dir, kubert reports the IP cri-dockerd's CNI call gave the
    pod and releases it when it stops the pod (the lease file goes, the cache entry too)."""
    if not CRI_DOCKERD.exists():
        pytest.skip(f"cri-dockerd is not at {CRI_DOCKERD}")
    _, sandbox_id, _ = _pod(workdir, clean_engine, host_network=False)
    leases = [p.name for p in bridge_network.iterdir() if p.name[0].isdigit()]
    assert len(leases) == 1, leases
    with _kubert_instead(workdir, clean_engine) as endpoint:
        status = json.loads(_ok(crictl(endpoint, "inspectp", sandbox_id)))["status"]
        assert status["network"]["ip"] == leases[0]
        _ok(crictl(endpoint, "stopp", sandbox_id))
        assert [p.name for p in bridge_network.iterdir() if p.name[0].isdigit()] == []
        assert list((workdir / "cni-cache" / "results").iterdir()) == []
        _ok(crictl(endpoint, "rmp", sandbox_id))
        assert docker_client.api.containers(all=True, filters={"id": sandbox_id}) == []


@pytest.mark.parametrize(("given", "expected"), [(7.5, 7.5), (0, 120.0)])
def test_runtime_request_timeout_is_the_engine_clients(
    docker_engine: Any, tmp_path: Path, given: float, expected: float
) -> None:
    """cri-dockerd's --runtime-request-timeout: one engine API call's limit, 0 meaning 2 min."""
    import kubert as k
    from kubert_docker.runtime import DockerRuntime

    options = {**docker_engine.backend_options(), "runtime-request-timeout": given}
    runtime = DockerRuntime(k.BackendContext(root_dir=tmp_path, options=options))
    try:
        assert runtime.version().runtime_name == "docker"  # connected, over that client
        assert runtime.engine.api().timeout == expected
    finally:
        runtime.close()
