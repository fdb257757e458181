"""End to end: RunPodSandbox through kubert's CRI server over a real unix socket, runtime
``docker`` (a private dockerd) and network ``cni`` (the real bridge + host-local plugins);
the pod IP is read from inside a container, and a failing plugin leaves nothing behind."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from typing import Any

import pytest

from kubert import (
    KubertError,
    PodSandboxConfig,
    PodSandboxMetadata,
)
from tests.cni.helpers import PrivateNet
from tests.fixtures.pods import start_sleeper

pytestmark = [pytest.mark.cni, pytest.mark.docker]


def _server(
    cri_server_factory: Callable[..., Any], engine: Any, testnet: PrivateNet, timeout: float = 20.0
) -> Any:
    return cri_server_factory(**testnet.docker_server_args(engine, plugin_timeout=timeout))


def _sandbox_config(name: str) -> PodSandboxConfig:
    return PodSandboxConfig(
        metadata=PodSandboxMetadata(name=name, namespace="kbt-e2e", uid=f"uid-{name}"),
    )


def test_pod_ip_from_inside_the_container(
    clean_engine: Any, cri_server_factory: Callable[..., Any], testnet: PrivateNet
) -> None:
    testnet.write_conflist("10-kbt.conflist", [testnet.bridge_plugin()])
    server = _server(cri_server_factory, clean_engine, testnet)
    client = server.client()
    try:
        conditions = {c.type: c.status for c in client.status().conditions}
        assert conditions["NetworkReady"] is True
        config = _sandbox_config("e2e")
        sandbox_id = client.run_pod_sandbox(config)
        status = client.pod_sandbox_status(sandbox_id)
        assert status.network is not None
        ip = status.network.ip
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(testnet.subnet)
        assert testnet.leases() == [ip]

        container_id = start_sleeper(client, sandbox_id, config, clean_engine.busybox)
        seen = client.exec_sync(container_id, ["ip", "-o", "-4", "addr", "show", "eth0"],
                                timeout=10)
        assert seen.exit_code == 0, seen.stderr
        assert f"inet {ip}/24" in seen.stdout.decode()
        lo = client.exec_sync(container_id, ["ip", "-o", "link", "show", "lo"], timeout=10)
        assert "UP" in lo.stdout.decode()

        client.stop_pod_sandbox(sandbox_id)
        assert testnet.leases() == [] and testnet.cache_files() == []
        assert testnet.bridge_ports() == []
        client.remove_pod_sandbox(sandbox_id)
    finally:
        client.close()


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"failOn": "ADD"}, "CNI plugin 'kbt-test' failed ADD on network 'kbt-net' with error "
                            "code 7: injected failure"),
        ({"garbageOn": "ADD"}, "CNI plugin 'kbt-test' failed ADD on network 'kbt-net': printed "
                               "output that is not JSON"),
        ({"hangOn": "ADD"}, "CNI plugin 'kbt-test' ADD on network 'kbt-net' did not finish "
                            "within 1s"),
    ],
)
def test_failing_plugin_fails_run_pod_sandbox_and_leaves_nothing(
    clean_engine: Any, cri_server_factory: Callable[..., Any], testnet: PrivateNet,
    fault: dict[str, str], expected: str, caplog: pytest.LogCaptureFixture,
) -> None:
    testnet.write_conflist("10-kbt.conflist", [testnet.bridge_plugin(), {"type": "kbt-test",
                                                                         **fault}])
    server = _server(cri_server_factory, clean_engine, testnet, timeout=1.0)
    client = server.client()
    docker = clean_engine.client()
    try:
        before = {c.id for c in docker.containers.list(all=True)}
        with caplog.at_level(logging.DEBUG, logger="kubert.cri.server"), \
                pytest.raises(KubertError):
            client.run_pod_sandbox(_sandbox_config("broken"))
        # The server's own log line: CriClient keeps the server's text for most codes but not
        # for DEADLINE_EXCEEDED, which it words as its own call timeout.
        assert expected in caplog.text
        assert {c.id for c in docker.containers.list(all=True)} == before
        assert client.list_pod_sandbox() == []
        assert testnet.leases() == [] and testnet.cache_files() == []
        assert testnet.bridge_ports() == []
    finally:
        docker.close()
        client.close()


def test_pod_ip_survives_a_kubert_restart(
    clean_engine: Any, cri_server_factory: Callable[..., Any], testnet: PrivateNet
) -> None:
    from tests.fixtures.server import start_server

    testnet.write_conflist("10-kbt.conflist", [testnet.bridge_plugin()])
    first = _server(cri_server_factory, clean_engine, testnet)
    with first.client() as client:
        sandbox_id = client.run_pod_sandbox(_sandbox_config("restart"))
        status = client.pod_sandbox_status(sandbox_id)
    assert status.network is not None
    first.stop()

    # The same root and socket: kubert restarted on the same node.
    second = start_server(first.socket_path.parent,
                          **testnet.docker_server_args(clean_engine, plugin_timeout=20.0))
    try:
        with second.client() as client:
            again = client.pod_sandbox_status(sandbox_id)
            assert again.network == status.network
            # Start-up GC kept the live sandbox's attachment.
            assert testnet.leases() == [status.network.ip]
            client.stop_pod_sandbox(sandbox_id)
            client.remove_pod_sandbox(sandbox_id)
        assert testnet.leases() == [] and testnet.cache_files() == []
    finally:
        second.stop()
