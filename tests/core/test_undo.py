"""A failed RunPodSandbox leaves nothing behind, and says which step failed.

Faults are injected on purpose: the memory backend's ``inject_fault`` makes one engine call
fail, and the checkpoint store and network backend of ``faults.py`` fail on demand and record
what was attached.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest

from kubert import ImageSpec, UnavailableError
from kubert.cri.api import pb, rpc
from tests.fixtures.server import RunningServer

from .faults import FaultPlugin
from .helpers import sandbox_config


@pytest.fixture
def faulty(cri_server_factory: Callable[..., RunningServer]) -> RunningServer:
    return cri_server_factory(
        network="recording", checkpoint="faulty-file", plugins=(FaultPlugin(),)
    )


def _run(server: RunningServer, name: str = "web") -> Any:
    with grpc.insecure_channel(server.address) as channel:
        stub = rpc.RuntimeServiceStub(channel)
        return stub.RunPodSandbox(pb.RunPodSandboxRequest(config=sandbox_config(name)))


def _assert_nothing_left(server: RunningServer) -> None:
    assert server.service.runtime.list_sandboxes(None) == []
    assert server.service.checkpoints.list() == []
    assert list((server.root / "checkpoints").iterdir()) == []
    assert server.service.network.attached == {}


def _fails_at(server: RunningServer, step: str, code: grpc.StatusCode) -> None:
    with pytest.raises(grpc.RpcError) as info:
        _run(server)
    assert info.value.code() == code
    assert f"failed at step {step!r}" in info.value.details(), info.value.details()
    _assert_nothing_left(server)
    # The kubelet retries with the same metadata: nothing stale is in the way.
    assert _run(server).pod_sandbox_id


def test_success_attaches_network_and_records_it(faulty: RunningServer) -> None:
    sandbox_id = _run(faulty).pod_sandbox_id
    assert faulty.service.network.attached == {sandbox_id: "10.0.0.2"}
    checkpoint = faulty.service.checkpoints.read(sandbox_id)
    assert checkpoint.network is not None and checkpoint.network.ip == "10.0.0.2"
    with faulty.client() as client:
        assert client.pod_sandbox_status(sandbox_id).network.ip == "10.0.0.2"
        client.stop_pod_sandbox(sandbox_id)
    assert faulty.service.network.torn_down == [sandbox_id]


def test_sandbox_image_is_pulled_when_absent(
    cri_server_factory: Callable[..., RunningServer],
) -> None:
    server = cri_server_factory(
        pod_infra_image="nginx:1.27", options={"memory": {"images": ["busybox:latest"]}}
    )
    assert server.service.images.image_status(ImageSpec(image="nginx:1.27")) is None
    assert _run(server).pod_sandbox_id
    assert server.service.images.image_status(ImageSpec(image="nginx:1.27")) is not None


def test_sandbox_image_pull_failure(cri_server_factory: Callable[..., RunningServer]) -> None:
    server = cri_server_factory(
        pod_infra_image="registry.k8s.io/pause:0.0-missing",
        options={"memory": {"images": ["busybox:latest"]}},
    )
    with pytest.raises(grpc.RpcError) as info:
        _run(server)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert "failed at step 'ensure sandbox image'" in info.value.details()
    assert server.service.runtime.list_sandboxes(None) == []
    assert server.service.checkpoints.list() == []


def test_create_failure(faulty: RunningServer) -> None:
    faulty.runtime.inject_fault("create_sandbox", UnavailableError("memory", "engine hiccup"))
    _fails_at(faulty, "create sandbox", grpc.StatusCode.UNAVAILABLE)


def test_checkpoint_write_failure_removes_sandbox(faulty: RunningServer) -> None:
    faulty.service.checkpoints.fail_on_write = 1
    _fails_at(faulty, "write checkpoint", grpc.StatusCode.INTERNAL)


def test_start_failure_removes_checkpoint_and_sandbox(faulty: RunningServer) -> None:
    faulty.runtime.inject_fault("start_sandbox", UnavailableError("memory", "runc failed"))
    _fails_at(faulty, "start sandbox", grpc.StatusCode.UNAVAILABLE)


def test_network_failure_stops_and_removes(faulty: RunningServer) -> None:
    faulty.service.network.fail_setup = True
    with pytest.raises(grpc.RpcError) as info:
        _run(faulty)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "failed at step 'set up network'" in info.value.details()
    assert "IPAM is exhausted" in info.value.details()
    _assert_nothing_left(faulty)


def test_failure_after_network_tears_network_down(faulty: RunningServer) -> None:
    faulty.service.checkpoints.fail_on_write = 2  # the write that records the IPs
    _fails_at(faulty, "record network in checkpoint", grpc.StatusCode.INTERNAL)
    assert len(faulty.service.network.torn_down) == 1


def test_failing_undo_step_keeps_the_original_error(faulty: RunningServer) -> None:
    faulty.service.network.fail_setup = True
    faulty.runtime.inject_fault("stop_sandbox", UnavailableError("memory", "stop failed too"))
    with pytest.raises(grpc.RpcError) as info:
        _run(faulty)
    assert "failed at step 'set up network'" in info.value.details()
    # The failed 'stop sandbox' undo is logged; the later undo steps still ran.
    _assert_nothing_left(faulty)
