"""ADD, CHECK, status after restart, and DEL with the real bridge + host-local + portmap plugins
in network namespaces the tests create, at every spec version the Debian plugins speak."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from collections.abc import Callable

import pytest

from kubert import InvalidArgumentError
from kubert_cni.errors import CNIPluginError
from tests.cni.helpers import PrivateNet, addresses_in, link_up, links_in, ns_name, pod

pytestmark = pytest.mark.cni


@pytest.mark.parametrize("version", ["0.3.0", "0.3.1", "0.4.0", "1.0.0"])
def test_add_check_restart_and_del_at_each_version(
    testnet: PrivateNet, netns: Callable[[], str], version: str
) -> None:
    plugins = [testnet.bridge_plugin()]
    if version != "0.3.0":  # portmap speaks 0.3.1 and later
        plugins.append({"type": "portmap", "capabilities": {"portMappings": True}})
    testnet.write_conflist("10-kbt.conflist", plugins, version=version)
    backend = testnet.backend()
    assert backend.status().status is True
    path = netns()
    p = pod(path)

    status = backend.setup_pod(p)

    assert ipaddress.ip_address(status.ip) in ipaddress.ip_network(testnet.subnet)
    assert addresses_in(path, "eth0") == [f"{status.ip}/24"]
    assert link_up(path, "lo")
    assert testnet.leases() == [status.ip]
    assert testnet.cache_files() == [f"kbt-net-{p.sandbox_id}-eth0"]
    cached = json.loads((testnet.cache_dir / "results" / testnet.cache_files()[0]).read_text())
    assert cached["kind"] == "cniCacheV1"
    assert cached["netns"] == path
    assert cached["cniArgs"][:3] == [["IgnoreUnknown", "1"], ["K8S_POD_NAMESPACE", "kbt-ns"],
                                     ["K8S_POD_NAME", "web"]]
    assert cached["result"]["cniVersion"] == version

    # A new backend instance (kubert restarted) answers the IP from the cache.
    restarted = testnet.backend()
    assert restarted.pod_network_status(p) == status
    assert restarted.check_pod(p) is (version >= "0.4.0")

    restarted.teardown_pod(p)

    assert testnet.leases() == []
    assert testnet.cache_files() == []
    assert testnet.bridge_ports() == []
    assert restarted.pod_network_status(p) is None
    restarted.teardown_pod(p)  # idempotent


def test_two_pods_reach_each_other_over_the_bridge(
    testnet: PrivateNet, netns: Callable[[], str]
) -> None:
    backend = testnet.bridge_backend()
    a, b = pod(netns(), "a"), pod(netns(), "b")
    ip_a = backend.setup_pod(a).ip
    ip_b = backend.setup_pod(b).ip
    assert ip_a != ip_b
    server = subprocess.Popen(
        ["ip", "netns", "exec", ns_name(b.netns_path), sys.executable, "-c",
         "import socket,sys\n"
         "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
         f"s.bind(('{ip_b}', 7777)); s.listen(1); print('ready', flush=True)\n"
         "s.settimeout(20); c,addr=s.accept(); c.sendall(addr[0].encode()); c.close()"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        client = subprocess.run(
            ["ip", "netns", "exec", ns_name(a.netns_path), sys.executable, "-c",
             "import socket\n"
             f"c=socket.create_connection(('{ip_b}', 7777), timeout=10)\n"
             "print(c.recv(100).decode())"],
            capture_output=True, text=True, timeout=30, check=True,
        )
        # B saw the connection come from A's pod address: no NAT between pods on one bridge.
        assert client.stdout.strip() == ip_a
    finally:
        server.kill()
        server.wait()
    backend.teardown_pod(a)
    backend.teardown_pod(b)
    assert testnet.leases() == []


def test_host_network_pods_skip_cni(testnet: PrivateNet) -> None:
    backend = testnet.bridge_backend()
    p = pod("", host_network=True)
    assert backend.setup_pod(p).ip == ""
    assert backend.pod_network_status(p) is None
    backend.teardown_pod(p)
    assert testnet.cache_files() == [] and testnet.leases() == []


def test_del_after_the_netns_is_gone_still_frees_the_lease(
    testnet: PrivateNet, netns: Callable[[], str]
) -> None:
    backend = testnet.bridge_backend()
    path = netns()
    p = pod(path)
    backend.setup_pod(p)
    subprocess.run(["ip", "netns", "del", ns_name(path)], check=True)

    backend.teardown_pod(p)

    assert testnet.leases() == [] and testnet.cache_files() == []
    # The veth pair dies with the netns, which the kernel destroys asynchronously.
    assert testnet.bridge_ports_after_netns_cleanup() == []


def test_del_without_the_cache_still_frees_the_lease(
    testnet: PrivateNet, netns: Callable[[], str]
) -> None:
    backend = testnet.bridge_backend()
    p = pod(netns())
    backend.setup_pod(p)
    for f in (testnet.cache_dir / "results").iterdir():
        f.unlink()

    testnet.backend().teardown_pod(p)

    assert testnet.leases() == [] and testnet.bridge_ports() == []


def test_garbage_collection_removes_what_no_live_sandbox_owns(
    testnet: PrivateNet, netns: Callable[[], str]
) -> None:
    backend = testnet.bridge_backend()
    keep, drop = pod(netns(), "keep"), pod(netns(), "drop")
    keep_ip = backend.setup_pod(keep).ip
    backend.setup_pod(drop)

    restarted = testnet.backend()
    restarted.garbage_collect({keep.sandbox_id})

    assert testnet.leases() == [keep_ip]
    assert testnet.cache_files() == [f"kbt-net-{keep.sandbox_id}-eth0"]
    assert links_in(drop.netns_path) == ["lo"]
    assert restarted.pod_network_status(keep) is not None
    restarted.teardown_pod(keep)


def _failing_loopback_plugin(testnet: PrivateNet) -> None:
    """Fault injected: the ``loopback`` binary replaced by one that fails, saying it ran."""
    fake = testnet.bin_dir / "loopback"
    fake.unlink()
    fake.write_text("#!/bin/sh\necho loopback plugin ran >&2\nexit 1\n")
    fake.chmod(0o755)


def test_lo_is_set_up_in_process_without_running_the_loopback_plugin(
    testnet: PrivateNet, netns: Callable[[], str]
) -> None:
    # Fault injected: a loopback "plugin" that fails if run, so the ADD succeeds only when
    # kubert sets lo up itself (the default, containerd's use_internal_loopback).
    _failing_loopback_plugin(testnet)
    backend = testnet.bridge_backend()
    path = netns()
    assert not link_up(path, "lo")  # a netns made by `ip netns add` starts with lo down
    p = pod(path)
    backend.setup_pod(p)
    assert link_up(path, "lo")
    backend.teardown_pod(p)


def test_lo_of_a_netns_that_does_not_exist_is_a_clear_error(
    testnet: PrivateNet, netns: Callable[[], str]
) -> None:
    backend = testnet.bridge_backend()
    missing = netns() + "-gone"
    with pytest.raises(CNIPluginError, match=f"cannot open netns {missing}"):
        backend.setup_pod(pod(missing))
    assert testnet.leases() == []
    assert testnet.cache_files() == []


def test_the_loopback_plugin_runs_when_internal_loopback_is_off(
    testnet: PrivateNet, netns: Callable[[], str]
) -> None:
    _failing_loopback_plugin(testnet)
    testnet.write_conflist("10-kbt.conflist", [testnet.bridge_plugin()])
    backend = testnet.backend(**{"internal-loopback": False})
    with pytest.raises(CNIPluginError, match="loopback plugin ran"):
        backend.setup_pod(pod(netns()))


def test_internal_loopback_must_be_a_boolean(testnet: PrivateNet) -> None:
    with pytest.raises(InvalidArgumentError, match="--cni-internal-loopback"):
        testnet.backend(**{"internal-loopback": "sometimes"})


def test_loopback_without_the_loopback_plugin(
    testnet: PrivateNet, netns: Callable[[], str]
) -> None:
    (testnet.bin_dir / "loopback").unlink()
    testnet.write_conflist("10-kbt.conflist", [testnet.bridge_plugin()])
    backend = testnet.backend(**{"internal-loopback": False})
    path = netns()
    p = pod(path)
    backend.setup_pod(p)
    assert link_up(path, "lo")
    backend.teardown_pod(p)


def test_add_cut_short_by_a_crash_is_cleared_and_redone(
    testnet: PrivateNet, netns: Callable[[], str]
) -> None:
    backend = testnet.bridge_backend()
    p = pod(netns())
    backend.setup_pod(p)
    # What a crash between the ADD and the result write leaves: an entry without result.
    path = testnet.cache_dir / "results" / testnet.cache_files()[0]
    entry = json.loads(path.read_text())
    del entry["result"]
    path.write_text(json.dumps(entry))

    restarted = testnet.backend()
    assert restarted.pod_network_status(p) is None
    again = restarted.setup_pod(p).ip

    assert testnet.leases() == [again]
    assert addresses_in(p.netns_path, "eth0") == [f"{again}/24"]
    restarted.teardown_pod(p)
    assert testnet.leases() == [] and testnet.cache_files() == []


def test_dual_stack_pod_gets_ipv4_primary_and_ipv6_additional(
    testnet: PrivateNet, netns: Callable[[], str]
) -> None:
    octet = testnet.subnet.split(".")[2]
    v6 = f"fd00:6b62:{int(octet):x}::/64"
    plugin = testnet.bridge_plugin()
    plugin["ipam"]["ranges"] = [[{"subnet": v6}], [{"subnet": testnet.subnet}]]
    plugin["ipam"]["routes"] = [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]
    testnet.write_conflist("10-kbt.conflist", [plugin])
    backend = testnet.backend()
    p = pod(netns())

    status = backend.setup_pod(p)

    assert ipaddress.ip_address(status.ip) in ipaddress.ip_network(testnet.subnet)
    (extra,) = status.additional_ips
    assert ipaddress.ip_address(extra.ip) in ipaddress.ip_network(v6)
    assert sorted(addresses_in(p.netns_path, "eth0")) == sorted(
        [f"{status.ip}/24", f"{extra.ip}/64"])
    backend.teardown_pod(p)
    assert testnet.leases() == []
