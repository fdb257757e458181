"""hostPort through the real portmap plugin, bandwidth through the real bandwidth plugin, and
kubenet building its own chain from the pod CIDR alone."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kubert import BackendContext, PortMapping
from kubert_cni import masquerade
from kubert_cni.kubenet import KubenetNetwork
from tests.cni.helpers import PrivateNet, addresses_in, link_up, ns_name, pod, run

pytestmark = pytest.mark.cni


def _iptables_nat_works() -> str:
    if shutil.which("iptables") is None:
        return "iptables is not installed"
    probe = run("iptables", "-w", "-t", "nat", "-L", "-n", check=False)
    return "" if probe.returncode == 0 else f"iptables nat table unusable: {probe.stderr.strip()}"


needs_iptables = pytest.mark.skipif(bool(_iptables_nat_works()), reason=_iptables_nat_works())


def _serve_once(netns_path: str, ip: str, port: int) -> subprocess.Popen[str]:
    server = subprocess.Popen(
        ["ip", "netns", "exec", ns_name(netns_path), sys.executable, "-c",
         "import socket\n"
         "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
         f"s.bind(('{ip}', {port})); s.listen(1); print('ready', flush=True)\n"
         "s.settimeout(20); c,_=s.accept(); c.sendall(b'hello from the pod'); c.close()"],
        stdout=subprocess.PIPE, text=True,
    )
    assert server.stdout is not None and server.stdout.readline().strip() == "ready"
    return server


@needs_iptables
def test_host_port_reaches_the_pod_through_portmap(
    testnet: PrivateNet, netns: Callable[[], str]
) -> None:
    testnet.write_conflist("10-kbt.conflist", [
        testnet.bridge_plugin(),
        {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
    ])
    backend = testnet.backend()
    host_port = 20000 + int(testnet.gateway.split(".")[2]) * 10
    # hostIP limits portmap's DNAT to the test bridge's address: no other host traffic matches.
    p = pod(netns(), ports=(PortMapping(container_port=8080, host_port=host_port,
                                        host_ip=testnet.gateway),))
    ip = backend.setup_pod(p).ip
    server = _serve_once(p.netns_path, ip, 8080)
    try:
        # From the host to its own address on the test bridge: DNAT by portmap's OUTPUT rule.
        with socket.create_connection((testnet.gateway, host_port), timeout=10) as conn:
            assert conn.recv(100) == b"hello from the pod"
    finally:
        server.kill()
        server.wait()
    backend.teardown_pod(p)
    rules = run("iptables", "-w", "-t", "nat", "-S").stdout
    assert f"--dport {host_port}" not in rules


def test_bandwidth_annotation_shapes_the_host_veth(
    testnet: PrivateNet, netns: Callable[[], str]
) -> None:
    testnet.write_conflist("10-kbt.conflist", [
        testnet.bridge_plugin(), {"type": "bandwidth", "capabilities": {"bandwidth": True}},
    ])
    backend = testnet.backend()
    p = pod(netns(), annotations={"kubernetes.io/ingress-bandwidth": "10M"})
    backend.setup_pod(p)
    entry = json.loads((testnet.cache_dir / "results" / testnet.cache_files()[0]).read_text())
    host_veth = next(i["name"] for i in entry["result"]["interfaces"]
                     if not i.get("sandbox") and i["name"] != testnet.bridge)
    qdisc = run("tc", "qdisc", "show", "dev", host_veth).stdout
    assert "tbf" in qdisc and "10Mbit" in qdisc
    backend.teardown_pod(p)
    assert testnet.leases() == []


def _kubenet(testnet: PrivateNet, **options: object) -> KubenetNetwork:
    base: dict[str, object] = {
        "bin-dir": [str(testnet.bin_dir)], "bridge": testnet.bridge,
        "cache-dir": str(testnet.cache_dir), "ipam-dir": str(testnet.ipam_dir),
        "non-masquerade-cidr": "10.244.0.0/16",
    }
    base.update(options)
    return KubenetNetwork(BackendContext(root_dir=testnet.root, options=base))


@needs_iptables
@pytest.mark.parametrize("hairpin", ["hairpin-veth", "promiscuous-bridge"])
def test_kubenet_needs_only_a_pod_cidr(
    testnet: PrivateNet, netns: Callable[[], str], hairpin: str
) -> None:
    backend = _kubenet(testnet, mtu=1400, **{"hairpin-mode": hairpin})
    condition = backend.status()
    assert condition.status is False and "kubenet does not have a pod CIDR" in condition.message
    backend.update_pod_cidr(testnet.subnet)
    assert backend.status().status is True
    path = netns()
    p = pod(path, "kube")
    try:
        ip = backend.setup_pod(p).ip
        assert addresses_in(path, "eth0") == [f"{ip}/24"]
        assert link_up(path, "lo")
        assert "mtu 1400" in run("ip", "-n", ns_name(path), "link", "show", "eth0").stdout
        promiscuous = "promiscuity 1" in run("ip", "-d", "link", "show", testnet.bridge).stdout
        (port,) = testnet.bridge_ports()
        hairpin_on = "hairpin on" in run("ip", "-d", "link", "show", "dev", port).stdout
        assert (promiscuous, hairpin_on) == (hairpin == "promiscuous-bridge",
                                             hairpin == "hairpin-veth")
        nat = run("iptables", "-w", "-t", "nat", "-S", "POSTROUTING").stdout
        assert masquerade.COMMENT in nat and testnet.subnet in nat
        network = backend.current_network()
        assert network is not None
        assert network.plugin_types == ("bridge", "portmap", "bandwidth")
        assert Path(backend.settings.ipam_dir / "kubenet" / ip).exists()
        backend.teardown_pod(p)
        assert testnet.leases() == []
    finally:
        backend.close()
    assert masquerade.COMMENT not in run("iptables", "-w", "-t", "nat", "-S").stdout
