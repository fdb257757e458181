"""KubertService behaviour behind the socket: idempotent stop/remove with the checkpoint as
fallback, network before stop, IPs in status, readiness, locking, garbage collection, and the
``kubert_cri_call`` hook around every call."""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from typing import Any

import pytest

from kubert import (
    ContainerConfig,
    ContainerMetadata,
    ImageSpec,
    PodNetwork,
    PodSandboxConfig,
    PodSandboxMetadata,
    PodSandboxState,
    UnavailableError,
    hookimpl,
)
from kubert.cri.client import CriClient
from kubert.locks import LockTable
from kubert.model import NamespaceMode, NamespaceOption
from kubert.model.sandbox import LinuxPodSandboxConfig, LinuxSandboxSecurityContext
from tests.fixtures.server import RunningServer

from .faults import FaultPlugin


def _config(name: str, host_network: bool = False) -> PodSandboxConfig:
    linux = LinuxPodSandboxConfig(
        security_context=LinuxSandboxSecurityContext(
            namespace_options=NamespaceOption(
                network=NamespaceMode.NODE if host_network else NamespaceMode.POD
            )
        )
    )
    return PodSandboxConfig(
        metadata=PodSandboxMetadata(name=name, uid=f"uid-{name}", namespace="default"),
        labels={"app": name},
        linux=linux,
    )


@pytest.fixture
def recording(cri_server_factory: Callable[..., RunningServer]) -> RunningServer:
    return cri_server_factory(network="recording", plugins=(FaultPlugin(),))


def test_status_reports_network_ips_and_falls_back_to_checkpoint(recording: RunningServer) -> None:
    network = recording.service.network
    with recording.client() as client:
        sandbox_id = client.run_pod_sandbox(_config("web"))
        assert client.pod_sandbox_status(sandbox_id).network.ip == "10.0.0.2"
        # The network backend no longer knows the pod (a restart lost its cache).
        network.attached.clear()
        assert client.pod_sandbox_status(sandbox_id).network.ip == "10.0.0.2"


def test_host_network_pods_skip_the_network_backend(recording: RunningServer) -> None:
    network = recording.service.network
    with recording.client() as client:
        sandbox_id = client.run_pod_sandbox(_config("host", host_network=True))
        assert network.attached == {}
        client.stop_pod_sandbox(sandbox_id)
        client.remove_pod_sandbox(sandbox_id)
    assert network.torn_down == []


def test_stop_tears_down_network_before_stopping(recording: RunningServer) -> None:
    network, runtime = recording.service.network, recording.runtime
    seen: list[PodSandboxState] = []
    original = network.teardown_pod

    def teardown(pod: PodNetwork) -> None:
        seen.append(runtime.sandbox_status(pod.sandbox_id).state)
        original(pod)

    network.teardown_pod = teardown
    with recording.client() as client:
        sandbox_id = client.run_pod_sandbox(_config("web"))
        client.stop_pod_sandbox(sandbox_id)
    assert seen == [PodSandboxState.SANDBOX_READY]


def test_sandbox_the_engine_forgot_is_listed_stopped_and_removed(recording: RunningServer) -> None:
    network = recording.service.network
    with recording.client() as client:
        sandbox_id = client.run_pod_sandbox(_config("lost"))
        recording.runtime.remove_sandbox(sandbox_id)  # the engine loses it (e.g. a wiped engine)

        listed = client.list_pod_sandbox()
        assert [(s.id, s.state, s.labels) for s in listed] == [
            (sandbox_id, PodSandboxState.SANDBOX_NOTREADY, {"app": "lost"})
        ]
        client.stop_pod_sandbox(sandbox_id)
        assert network.torn_down == [sandbox_id]
        assert network.attached == {}
        client.remove_pod_sandbox(sandbox_id)
        assert client.list_pod_sandbox() == []
        assert recording.service.checkpoints.list() == []
        # Unknown everywhere: still success.
        client.stop_pod_sandbox(sandbox_id)
        client.remove_pod_sandbox(sandbox_id)


def test_remove_running_sandbox_tears_down_and_removes_containers(
    recording: RunningServer,
) -> None:
    with recording.client() as client:
        config = _config("web")
        sandbox_id = client.run_pod_sandbox(config)
        container = ContainerConfig(
            metadata=ContainerMetadata(name="app"), image=ImageSpec(image="busybox:latest"),
            command=("sleep", "60"),
        )
        client.start_container(client.create_container(sandbox_id, container, config))
        client.remove_pod_sandbox(sandbox_id)
        assert client.list_containers() == []
        assert client.list_pod_sandbox() == []
    assert recording.service.network.torn_down == [sandbox_id]


def test_network_not_ready_is_reported_with_reason(recording: RunningServer) -> None:
    recording.service.network.down = "no CNI config in /etc/cni/net.d"
    with recording.client() as client:
        conditions = {c.type: c for c in client.status().conditions}
    assert conditions["RuntimeReady"].status
    network = conditions["NetworkReady"]
    assert not network.status
    assert network.reason == "BackendUnavailable"
    assert "no CNI config" in network.message


def test_different_pods_run_in_parallel(recording: RunningServer) -> None:
    # Both RunPodSandbox calls must be inside the network step at once to pass the barrier:
    # a global lock would break it (BrokenBarrierError -> the call fails).
    barrier = threading.Barrier(2, timeout=20)
    recording.service.network.before_setup = lambda pod: barrier.wait()
    results: dict[str, Any] = {}

    def run(name: str) -> None:
        with recording.client() as client:
            try:
                results[name] = client.run_pod_sandbox(_config(name))
            except Exception as error:
                results[name] = error

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert all(isinstance(v, str) for v in results.values()), results
    assert len(results) == 2


def test_lock_table_serializes_one_key_only() -> None:
    table = LockTable()
    entered = {"a": threading.Event(), "b": threading.Event()}

    def take(key: str) -> None:
        with table.hold(key):
            entered[key].set()

    with table.hold("a"):
        other_a = threading.Thread(target=take, args=("a",))
        other_b = threading.Thread(target=take, args=("b",))
        other_a.start()
        other_b.start()
        assert entered["b"].wait(10)  # a different key is not blocked
        assert not entered["a"].is_set()  # the same key waits for us
    assert entered["a"].wait(10)
    other_a.join(10)
    other_b.join(10)
    assert len(table) == 0  # locks are dropped when nobody holds them


def test_start_up_garbage_collects_network(recording: RunningServer) -> None:
    network = recording.service.network
    assert network.collected == [set()]  # the fixture's start-up, with nothing alive
    with recording.client() as client:
        sandbox_id = client.run_pod_sandbox(_config("keep"))
    network.attached["gone"] = "10.9.9.9"  # an attachment of a sandbox that no longer exists
    recording.service.start()
    assert network.collected[-1] == {sandbox_id}
    assert network.attached == {sandbox_id: "10.0.0.2"}


class CallRecorder:
    """A wrapper plugin, as metrics or tracing would be: it sees every call in and out."""

    __name__ = "call-recorder"

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, str]] = []

    @hookimpl(wrapper=True)
    def kubert_cri_call(
        self, method: str, request: Any, call: Callable[[Any], Any]
    ) -> Generator[None, Any, Any]:
        try:
            result = yield
        except Exception as error:
            self.calls.append((method, request, type(error).__name__))
            raise
        self.calls.append((method, request, "ok"))
        return result


def test_wrapper_plugins_see_every_call_as_models(
    cri_server_factory: Callable[..., RunningServer],
) -> None:
    recorder = CallRecorder()
    server = cri_server_factory(plugins=(recorder,))
    with server.client() as client:
        client.version()
        sandbox_id = client.run_pod_sandbox(_config("seen"))
        with pytest.raises(Exception, match="not found"):
            client.container_status("0" * 64)
    methods = [(m, outcome) for m, _, outcome in recorder.calls]
    assert methods == [
        ("Version", "ok"), ("RunPodSandbox", "ok"), ("ContainerStatus", "NotFoundError")
    ]
    run_request = recorder.calls[1][1]
    assert isinstance(run_request["config"], PodSandboxConfig)
    assert run_request["config"].metadata.name == "seen"
    assert sandbox_id


def test_stop_drains_in_flight_calls_and_refuses_new_ones(recording: RunningServer) -> None:
    entered, release = threading.Event(), threading.Event()

    def hold(pod: PodNetwork) -> None:
        entered.set()
        release.wait(30)

    recording.service.network.before_setup = hold
    result: dict[str, Any] = {}

    def run() -> None:
        with recording.client() as client:
            try:
                result["id"] = client.run_pod_sandbox(_config("slow"))
            except Exception as error:
                result["error"] = error

    caller = threading.Thread(target=run)
    caller.start()
    assert entered.wait(20)
    stopper = threading.Thread(target=recording.server.stop, kwargs={"grace": 60})
    stopper.start()
    refused = False
    for _ in range(100):  # bounded: the stop begins within moments
        try:
            with CriClient.connect(recording.address, timeout=0.2) as late:
                late.version()
        except UnavailableError:
            refused = True
            break
    release.set()
    caller.join(30)
    stopper.join(30)
    assert refused, "new calls were still served while draining"
    assert "id" in result, result  # the in-flight RunPodSandbox finished
    assert not recording.socket_path.exists()
