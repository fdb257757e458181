"""What plugins receive: CNI_* variables, injected config, runtimeConfig, prevResult, order;
spec 1.1.0's STATUS and GC; per-sandbox serialization. The recording plugin is
tests/cni/testplugin.py; the netns are real, made by the tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kubert import PortMapping, Protocol
from tests.cni.helpers import PrivateNet, pod

pytestmark = pytest.mark.cni


def calls(record: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []


def test_add_in_order_del_in_reverse_with_everything_injected(
    testnet: PrivateNet, netns: Callable[[], str], tmp_path: Path
) -> None:
    record = tmp_path / "calls.jsonl"
    testnet.write_conflist("10-rec.conflist", [
        {"type": "kbt-test", "tag": "first", "record": str(record), "ip": "10.99.0.9/24",
         "capabilities": {"portMappings": True, "bandwidth": True}},
        {"type": "kbt-test", "tag": "second", "record": str(record),
         "capabilities": {"ipRanges": True, "dns": False}, "cniVersion": "0.1.0"},
    ], version="1.0.0", name="rec")
    backend = testnet.backend(**{"pod-cidr": "10.99.0.0/24"})
    path = netns()
    p = pod(path, "rec-pod", ports=(
        PortMapping(container_port=80, host_port=8080, protocol=Protocol.TCP),
        PortMapping(container_port=53, host_port=0, protocol=Protocol.UDP),
    ), annotations={"kubernetes.io/ingress-bandwidth": "10M"})

    status = backend.setup_pod(p)
    backend.teardown_pod(p)

    assert status.ip == "10.99.0.9"
    seen = [c for c in calls(record)]
    assert [(c["command"], c["conf"]["tag"]) for c in seen] == [
        ("ADD", "first"), ("ADD", "second"), ("DEL", "second"), ("DEL", "first")]
    add1, add2, del2, del1 = seen
    assert add1["env"] == {
        "CNI_COMMAND": "ADD", "CNI_CONTAINERID": p.sandbox_id, "CNI_NETNS": path,
        "CNI_IFNAME": "eth0", "CNI_PATH": str(testnet.bin_dir),
        "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=kbt-ns;K8S_POD_NAME=rec-pod;"
                    f"K8S_POD_INFRA_CONTAINER_ID={p.sandbox_id};K8S_POD_UID={p.metadata.uid}",
    }
    # name and cniVersion are the list's; capabilities become runtimeConfig only where declared.
    assert add1["conf"]["name"] == add2["conf"]["name"] == "rec"
    assert add2["conf"]["cniVersion"] == "1.0.0"
    assert "prevResult" not in add1["conf"]
    assert add1["conf"]["runtimeConfig"] == {
        "portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp",
                          "hostIP": ""}],
        "bandwidth": {"ingressRate": 10_000_000, "ingressBurst": 2**31 - 1},
    }
    assert add2["conf"]["runtimeConfig"] == {"ipRanges": [[{"subnet": "10.99.0.0/24"}]]}
    assert add2["conf"]["prevResult"]["ips"] == [{"address": "10.99.0.9/24", "interface": 0}]
    # DEL gets the cached result as prevResult (0.4.0 and later) and the same runtimeConfig.
    assert del2["conf"]["prevResult"]["ips"][0]["address"] == "10.99.0.9/24"
    assert del1["conf"]["runtimeConfig"] == add1["conf"]["runtimeConfig"]
    assert del1["env"]["CNI_ARGS"] == add1["env"]["CNI_ARGS"]


def test_del_gets_no_prev_result_before_0_4_0(
    testnet: PrivateNet, netns: Callable[[], str], tmp_path: Path
) -> None:
    record = tmp_path / "calls.jsonl"
    testnet.write_conflist("10-rec.conflist", [{"type": "kbt-test", "record": str(record)}],
                           version="0.3.1")
    backend = testnet.backend()
    p = pod(netns())
    backend.setup_pod(p)
    assert backend.check_pod(p) is False  # no CHECK before 0.4.0
    backend.teardown_pod(p)
    add, delete = calls(record)
    assert add["command"] == "ADD" and delete["command"] == "DEL"
    assert "prevResult" not in delete["conf"]


def test_status_and_gc_at_1_1_0(
    testnet: PrivateNet, netns: Callable[[], str], tmp_path: Path
) -> None:
    leases = tmp_path / "leases"
    leases.mkdir()
    status_flag = tmp_path / "unavailable"
    record = tmp_path / "calls.jsonl"
    testnet.write_conflist("10-v11.conflist", [
        {"type": "kbt-test", "leaseDir": str(leases), "statusFailFile": str(status_flag),
         "record": str(record)},
    ], version="1.1.0")
    backend = testnet.backend()
    assert backend.status().status is True
    status_flag.touch()
    condition = backend.status()
    assert condition.status is False
    assert "failed STATUS on network 'kbt-net' with error code 50: plugin not available" in (
        condition.message)
    status_flag.unlink()
    keep, drop, orphan = pod(netns(), "keep"), pod(netns(), "drop"), pod(netns(), "orphan")
    for p in (keep, drop, orphan):
        backend.setup_pod(p)
    # An attachment the cache no longer knows: only the plugin's own GC can find it.
    (testnet.cache_dir / "results" / f"kbt-net-{orphan.sandbox_id}-eth0").unlink()
    assert backend.check_pod(keep) is True

    backend.garbage_collect({keep.sandbox_id})

    assert sorted(p.name for p in leases.iterdir()) == [keep.sandbox_id]
    assert testnet.cache_files() == [f"kbt-net-{keep.sandbox_id}-eth0"]
    gc = [c for c in calls(record) if c["command"] == "GC"]
    assert len(gc) == 1
    assert gc[0]["conf"]["cni.dev/valid-attachments"] == [
        {"containerID": keep.sandbox_id, "ifname": "eth0"}]
    assert gc[0]["env"]["CNI_COMMAND"] == "GC"


def test_one_sandbox_at_a_time_and_different_sandboxes_in_parallel(
    testnet: PrivateNet, netns: Callable[[], str]
) -> None:
    backend = testnet.bridge_backend()
    pods = [pod(netns(), f"p{i}") for i in range(4)]
    same = pods[0]
    results: dict[str, str] = {}
    errors: list[BaseException] = []

    def setup(key: str, p: Any) -> None:
        try:
            results[key] = backend.setup_pod(p).ip
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=setup, args=(f"p{i}", p)) for i, p in enumerate(pods)]
    # The same sandbox twice at once: the second call waits, then answers from the cache.
    threads.append(threading.Thread(target=setup, args=("again", same)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len({results[f"p{i}"] for i in range(4)}) == 4
    assert results["again"] == results["p0"]
    assert len(testnet.leases()) == 4
    assert len(backend._locks) == 0
    for p in pods:
        backend.teardown_pod(p)
    assert testnet.leases() == []
