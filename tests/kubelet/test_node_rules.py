"""Item 6 rules of issue 17: hostNetwork pods report the node's IPs, ClusterFirst DNS adds the
host's search domains, Localhost seccomp profiles resolve under the seccomp root, and a subPath
cannot leave its volume through a symlink."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubert.cri.client import CriClient
from kubert.errors import InvalidArgumentError
from kubert.kubelet import KubeletConfig, container_config, load_pods, sandbox_config
from kubert.kubelet.criconfigs import dns_config
from kubert.kubelet.nodeinfo import node_ips
from kubert.kubelet.podstatus import pod_view
from kubert.kubelet.subpath import safe_subpath
from tests.fixtures.server import RunningServer

from .conftest import new_manager, unique_name
from .helpers import pod


def test_host_network_pod_reports_the_node_ips_and_uses_them_for_field_refs(
    memory_server: RunningServer, memory_cri: CriClient, tmp_path: Path
) -> None:
    manager, _ = new_manager(memory_cri, tmp_path)
    p = load_pods(
        f"metadata: {{name: {unique_name('hostnet')}}}\nspec:\n  hostNetwork: true\n"
        "  containers:\n  - name: a\n    image: 'busybox:1.36'\n    command: [sleep, '9999']\n"
        "    env: [{name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}]\n"
    )[0]
    try:
        manager.sync_pod(p)
        status = manager.observe(p.uid)
        assert status.ips == ()  # the runtime gives a host-network sandbox no IP of its own
        assert pod_view(p, status).ips == node_ips() and node_ips()
        a = status.find("a")
        assert a is not None and a.field_refs == {"status.podIP": node_ips()[0]}
    finally:
        manager.delete_pod(p.uid, p)


def test_cluster_first_adds_the_host_search_domains(tmp_path: Path) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 10.0.0.53\nsearch corp.example lab.example cluster.local\n")
    config = KubeletConfig(cluster_dns=("10.96.0.10",), resolv_conf=resolv)
    dns = dns_config(config, pod("metadata: {name: d, namespace: shop}\nspec:\n  containers:\n"
                                 "  - {name: a, image: x}\n"))
    assert dns is not None and dns.servers == ("10.96.0.10",)
    assert dns.searches == (
        "shop.svc.cluster.local", "svc.cluster.local", "cluster.local",
        "corp.example", "lab.example",
    )
    assert dns.options == ("ndots:5",)


SECCOMP = """
metadata: {name: s}
spec:
  securityContext: {seccompProfile: {type: Localhost, localhostProfile: %s}}
  containers:
  - {name: a, image: x}
"""


def test_localhost_seccomp_profiles_resolve_under_the_seccomp_root(tmp_path: Path) -> None:
    config = KubeletConfig(root_dir=tmp_path, seccomp_root_dir=tmp_path / "profiles")
    p = pod(SECCOMP % "audit.json")
    seccomp = sandbox_config(config, p, 0).linux.security_context.seccomp
    assert seccomp is not None and seccomp.localhost_ref == str(tmp_path / "profiles/audit.json")
    built = container_config(
        config, p, p.spec.containers[0], restart_count=0, pod_ips=(), volume_paths={}
    )
    container_seccomp = built.linux.security_context.seccomp
    assert container_seccomp is not None
    assert container_seccomp.localhost_ref == str(tmp_path / "profiles/audit.json")
    assert KubeletConfig(root_dir=tmp_path).seccomp_root == tmp_path / "seccomp"
    for bad in ("../etc/shadow", "/abs.json"):
        with pytest.raises(InvalidArgumentError, match="localhostProfile"):
            sandbox_config(config, pod(SECCOMP % repr(bad)), 0)


def test_a_bad_seccomp_profile_fails_the_sandbox_step_not_the_sync(
    memory_cri: CriClient, tmp_path: Path
) -> None:
    manager, _ = new_manager(memory_cri, tmp_path)
    p = pod(SECCOMP % "'../x.json'")
    result = manager.sync_pod(p)
    assert [(s.action, s.error) for s in result.steps] == [
        ("CreatePodSandbox", "CreatePodSandboxConfigError")
    ]
    assert "localhostProfile" in result.steps[0].message
    assert manager.observe(p.uid).sandboxes == ()


def test_a_sub_path_cannot_leave_its_volume_through_a_symlink(tmp_path: Path) -> None:
    volume = tmp_path / "vol"
    (volume / "inside").mkdir(parents=True)
    outside = tmp_path / "secret"
    outside.mkdir()
    os.symlink(outside, volume / "escape")
    os.symlink("inside", volume / "fine")
    assert safe_subpath(volume, "fine") == (volume / "inside").resolve()
    assert safe_subpath(volume, "new/dir") == (volume / "new/dir").resolve()
    assert (volume / "new/dir").is_dir()
    for bad in ("escape", "escape/deeper", "inside/../../secret"):
        with pytest.raises(InvalidArgumentError, match="outside its volume"):
            safe_subpath(volume, bad)
    assert not (outside / "deeper").exists()  # nothing was made outside
