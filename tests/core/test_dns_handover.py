"""The sandbox's DNS config reaches the network backend on setup (CNI's ``dns`` capability)."""

from __future__ import annotations

from collections.abc import Callable

from kubert import DNSConfig, PodNetwork, PodSandboxConfig, PodSandboxMetadata
from tests.fixtures.server import RunningServer

from .faults import FaultPlugin


def test_setup_pod_receives_the_dns_config(
    cri_server_factory: Callable[..., RunningServer],
) -> None:
    server = cri_server_factory(network="recording", plugins=(FaultPlugin(),))
    seen: list[PodNetwork] = []
    server.service.network.before_setup = seen.append
    dns = DNSConfig(servers=("10.96.0.10",), searches=("svc.cluster.local",), options=("ndots:5",))
    config = PodSandboxConfig(
        metadata=PodSandboxMetadata(name="dns", namespace="default", uid="uid-dns"),
        dns_config=dns,
    )
    with server.client() as client:
        client.run_pod_sandbox(config)
    assert [pod.dns_config for pod in seen] == [dns]
