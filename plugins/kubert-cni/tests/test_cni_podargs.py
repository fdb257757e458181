"""Capability args and CNI_ARGS built from a pod, without running any plugin."""

from __future__ import annotations

from kubert import DNSConfig, PodNetwork, PodSandboxMetadata, PortMapping, Protocol
from kubert_cni.podargs import capability_args, cni_args, runtime_config

POD = PodNetwork(
    sandbox_id="s" * 64,
    metadata=PodSandboxMetadata(name="web", namespace="shop", uid="u-1"),
    netns_path="/var/run/netns/x",
    port_mappings=(
        PortMapping(protocol=Protocol.SCTP, container_port=9, host_port=90, host_ip="127.0.0.1"),
        PortMapping(protocol=Protocol.UDP, container_port=53),
    ),
    annotations={"kubernetes.io/egress-bandwidth": "1Mi"},
)


def test_capabilities_from_the_pod() -> None:
    dns = DNSConfig(servers=("10.0.0.10",), searches=("svc.local",), options=("ndots:5",))
    caps = capability_args(POD, ("10.1.0.0/24", "fd00::/64"), dns)
    assert caps == {
        "portMappings": [{"hostPort": 90, "containerPort": 9, "protocol": "sctp",
                          "hostIP": "127.0.0.1"}],
        "bandwidth": {"egressRate": 2**20, "egressBurst": 2**31 - 1},
        "dns": {"servers": ["10.0.0.10"], "searches": ["svc.local"], "options": ["ndots:5"]},
        "ipRanges": [[{"subnet": "10.1.0.0/24"}], [{"subnet": "fd00::/64"}]],
    }
    plugin = {"type": "x", "capabilities": {"dns": True, "portMappings": False, "other": True}}
    assert runtime_config(plugin, caps) == {"dns": caps["dns"]}
    assert runtime_config({"type": "x"}, caps) == {}


def test_no_capabilities_when_the_pod_has_none() -> None:
    bare = PodNetwork(sandbox_id="a" * 64, metadata=POD.metadata, netns_path="/x")
    assert capability_args(bare, (), DNSConfig()) == {}


def test_cni_args_in_the_kubelets_order() -> None:
    assert cni_args(POD) == (
        ("IgnoreUnknown", "1"), ("K8S_POD_NAMESPACE", "shop"), ("K8S_POD_NAME", "web"),
        ("K8S_POD_INFRA_CONTAINER_ID", "s" * 64), ("K8S_POD_UID", "u-1"),
    )
