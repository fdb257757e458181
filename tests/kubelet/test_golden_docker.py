"""The golden manifests (tests/kubelet/manifests: pods as clusters print them, each file with
its ConfigMap and Secret) run unchanged through ``kubert apply`` on the real engine (a private
dockerd) and the real CNI (bridge + host-local): containers read the mounted files and env
values, an edited ConfigMap reaches the mounted file of the running container, and ``kubert
delete -f`` leaves no container, sandbox, IP lease, pod directory or object behind.

Images: the manifests name nginx, nginx-slim and busybox images; the private engine has no
internet, so the test gives its busybox image those names (nginx ones with busybox httpd as
their command), which is what an image pull would have put there.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import pytest

from kubert.cri.client import CriClient
from kubert.model import ContainerFilter, ContainerState
from tests.cni.helpers import PrivateNet, bridge_net
from tests.fixtures.polling import eventually

from .conftest import invoker

pytestmark = [pytest.mark.docker, pytest.mark.cni]

MANIFESTS = Path(__file__).parent / "manifests"
HTML = "/usr/share/nginx/html"
# nginx stops on SIGTERM; so does this stand-in (a shell as PID 1 would ignore it).
SERVE = f"mkdir -p {HTML}; trap 'exit 0' TERM; httpd -f -p 80 -h {HTML} & wait"
HTTPD = f'CMD ["sh", "-c", "{SERVE}"]'
NAMED_IMAGES = {
    "nginx:1.25.3": HTTPD, "registry.k8s.io/nginx-slim:0.8": HTTPD, "busybox:1.36": "",
}



@pytest.fixture
def golden_images(docker_client: Any, clean_engine: Any) -> Iterator[None]:
    for name, change in NAMED_IMAGES.items():
        repository, tag = name.rsplit(":", 1)
        maker = docker_client.containers.create(clean_engine.busybox, command=["true"])
        try:
            maker.commit(repository=repository, tag=tag, changes=[change] if change else [])
        finally:
            maker.remove()
    yield
    for name in NAMED_IMAGES:
        docker_client.images.remove(name, force=True)


@pytest.fixture
def golden_net(tmp_path: Path) -> Iterator[PrivateNet]:
    plugins = ("bridge", "host-local", "loopback", "portmap")
    with bridge_net(tmp_path, "kbtgd", "10.246", plugins, "10-golden.conflist") as net:
        yield net


def test_golden_manifests_run_unchanged_and_clean_up(
    golden_images: None,
    clean_engine: Any,
    cri_server_factory: Callable[..., Any], cli: click.Group,
    golden_net: PrivateNet,
    tmp_path: Path,
) -> None:
    server = cri_server_factory(**golden_net.docker_server_args(clean_engine))
    root = tmp_path / "kubelet"
    run = invoker(cli, server.address, tmp_path)

    cri: CriClient = server.client()

    def container(pod: str, name: str) -> str:
        found = cri.list_containers(ContainerFilter(
            state=ContainerState.CONTAINER_RUNNING,
            label_selector={"io.kubernetes.pod.name": pod, "io.kubernetes.container.name": name},
        ))
        assert found, f"no running container {name} in {pod}"
        return found[0].id

    def sh(container_id: str, script: str) -> str:
        result = cri.exec_sync(container_id, ["sh", "-c", script], timeout=10)
        assert result.exit_code == 0, (script, result.stderr)
        return result.stdout.decode()

    files = {p.stem: p for p in sorted(MANIFESTS.glob("*.yaml"))}
    try:
        for name, path in files.items():
            applied = run("apply", "-f", str(path), "--timeout", "60")
            assert applied.exit_code == 0, (name, applied.output)
            assert "notice: spec.schedulerName: ignored (used by the scheduler only)" in (
                applied.output)

        # nginx Deployment: env from both objects, the configMap page served by the container,
        # the secret volume's defaultMode, the projected service-account volume's files.
        nginx = container("nginx-deployment-7c79c4bf97-x2k8p", "nginx")
        seen = sh(nginx, "env")
        for line in ("LOG_LEVEL=info", "DB_PASSWORD=s3cr3t-pass", "NGINX_worker_connections=1024",
                     "POD_NAME=nginx-deployment-7c79c4bf97-x2k8p"):
            assert line in seen.splitlines(), (line, seen)
        page = "wget -qO- http://127.0.0.1:80/ || true"
        assert eventually(lambda: "configmap" in sh(nginx, page), timeout=20, interval=0.2)
        assert sh(nginx, "stat -L -c %a /etc/credentials/password").strip() == "400"
        assert sh(nginx, "cat /etc/credentials/username") == "admin"
        sa = "/var/run/secrets/kubernetes.io/serviceaccount"
        assert sh(nginx, f"cat {sa}/namespace") == "default"
        assert "BEGIN CERTIFICATE" in sh(nginx, f"cat {sa}/ca.crt")

        # StatefulSet: downward API files, FQDN in /etc/hosts, status.podIP in env.
        web = container("web-0", "nginx")
        labels = sh(web, "cat /etc/podinfo/labels").splitlines()
        assert 'statefulset.kubernetes.io/pod-name="web-0"' in labels
        assert 'example.com/build="2026.11.30"' in sh(web, "cat /etc/podinfo/annotations")
        assert sh(web, "cat /etc/nginx/conf.d/site.conf") == "listen 80;\n"
        assert "fake" in sh(web, "cat /etc/tls/tls.key")
        pod_ip = sh(web, "echo $POD_IP").strip()
        assert pod_ip.startswith("10.246.")
        fqdn = "web-0.nginx.default.svc.cluster.local"
        assert f"{pod_ip}\t{fqdn}\tweb-0" in sh(web, "cat /etc/hosts")
        assert sh(web, "echo $ROLE").strip() == "replica"

        # Job: OnFailure pod whose init container copied a configMap file; it Succeeded.
        logs = run("logs", "pi-xk2p9", "-c", "pi")
        assert logs.output.splitlines() == ["digits=50 mode=fast key=abc123 prepared=50"], (
            logs.output)

        # DaemonSet: host network, the host's /var/log read-only, env from the secret.
        agent = container("log-agent-7d9wq", "agent")
        host = Path("/proc/sys/kernel/hostname").read_text().strip()
        assert sh(agent, "hostname").strip() == host
        assert sh(agent, "echo $AGENT_TOKEN").strip() == "logs-token"
        assert "[INPUT]" in sh(agent, "cat /etc/agent/agent.conf")
        assert sh(agent, "touch /host/log/x 2>&1 || echo refused").strip().endswith("refused")

        # Editing the ConfigMap updates the file in the running container.
        edited = tmp_path / "nginx-edited.yaml"
        edited.write_text(files["nginx-deployment"].read_text().replace(
            "hello from a configmap", "edited configmap"))
        again = run("apply", "-f", str(edited), "--timeout", "60")
        assert "configmap/nginx-config configured" in again.output, again.output
        assert eventually(lambda: "edited configmap" in sh(
            nginx, "cat /usr/share/nginx/html/index.html"), timeout=10, interval=0.2)
        assert container("nginx-deployment-7c79c4bf97-x2k8p", "nginx") == nginx
    finally:
        for path in files.values():
            run("delete", "-f", str(path))
    assert cri.list_containers() == []
    assert cri.list_pod_sandbox() == []
    assert golden_net.leases() == []
    assert not any((root / "pods").iterdir())
    assert "No configmaps found" in run("get", "configmaps", "-A").output
    assert "No secrets found" in run("get", "secrets", "-A").output
    cri.close()
    shutil.rmtree(tmp_path / "logs", ignore_errors=True)
