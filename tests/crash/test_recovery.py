"""Start-up recovery (kubert.recovery) over the in-memory runtime and a recording network: the
states a crash leaves are built directly with the backends, then the service starts again.

The network is tests/core/faults.py's RecordingNetwork (a small complete network backend that
records attachments); a wrapped ``list_sandboxes`` makes the engine unreachable (fault
injection, as said)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import attrs
import pytest

from kubert import PodSandboxConfig, PodSandboxMetadata, PodSandboxState, UnavailableError
from kubert.recovery import STOPPING, RunGate
from kubert.service import _checkpoint
from tests.core.faults import FaultPlugin
from tests.fixtures.polling import eventually
from tests.fixtures.server import RunningServer


@pytest.fixture
def recording(cri_server_factory: Callable[..., RunningServer]) -> RunningServer:
    return cri_server_factory(network="recording", plugins=(FaultPlugin(),))


def _config(name: str) -> PodSandboxConfig:
    return PodSandboxConfig(
        metadata=PodSandboxMetadata(name=name, namespace="recover", uid=f"uid-{name}")
    )


def _started_without_network(server: RunningServer, name: str) -> str:
    """What a crash at crash point ``run:started`` leaves: a running sandbox whose checkpoint
    holds no network."""
    service = server.service
    created = service.runtime.create_sandbox(_config(name), "")
    service.checkpoints.write(_checkpoint(_config(name), created.id, created.netns_path, ""))
    service.runtime.start_sandbox(created.id)
    return created.id


def _state(server: RunningServer, sandbox_id: str) -> PodSandboxState:
    return server.service.runtime.sandbox_status(sandbox_id).state


def test_unfinished_run_is_stopped_so_the_kubelet_replaces_it(recording: RunningServer) -> None:
    sandbox_id = _started_without_network(recording, "half")
    recording.service.start()
    report = recording.service.recovery.last_report
    assert report is not None and report.interrupted == (sandbox_id,)
    assert _state(recording, sandbox_id) == PodSandboxState.SANDBOX_NOTREADY
    assert recording.service.network.torn_down == [sandbox_id]
    with recording.client() as client:
        client.remove_pod_sandbox(sandbox_id)
        assert client.list_pod_sandbox() == []


def test_unfinished_run_with_network_up_is_recorded(recording: RunningServer) -> None:
    sandbox_id = _started_without_network(recording, "almost")
    recording.service.network.attached[sandbox_id] = "10.0.0.42"  # ADD finished, not recorded
    recording.service.start()
    report = recording.service.recovery.last_report
    assert report is not None and report.completed == (sandbox_id,)
    assert _state(recording, sandbox_id) == PodSandboxState.SANDBOX_READY
    checkpoint = recording.service.checkpoints.read(sandbox_id)
    assert checkpoint.network is not None and checkpoint.network.ip == "10.0.0.42"
    with recording.client() as client:
        assert client.pod_sandbox_status(sandbox_id).network.ip == "10.0.0.42"


def test_unfinished_stop_is_finished(recording: RunningServer) -> None:
    with recording.client() as client:
        sandbox_id = client.run_pod_sandbox(_config("stopping"))
    store = recording.service.checkpoints
    # What a crash during StopPodSandbox's teardown leaves: marked, network gone, still running.
    checkpoint = store.read(sandbox_id)
    store.write(attrs.evolve(checkpoint, extra={**checkpoint.extra, STOPPING: "1"}))
    recording.service.network.attached.pop(sandbox_id)
    recording.service.start()
    report = recording.service.recovery.last_report
    assert report is not None and report.stopped == (sandbox_id,)
    assert _state(recording, sandbox_id) == PodSandboxState.SANDBOX_NOTREADY


def test_stop_marks_the_checkpoint_before_teardown(recording: RunningServer) -> None:
    seen: list[dict[str, str]] = []
    network = recording.service.network
    store = recording.service.checkpoints
    original = network.teardown_pod

    def teardown(pod: object) -> None:
        seen.append(dict(store.read(pod.sandbox_id).extra))  # type: ignore[attr-defined]
        original(pod)  # type: ignore[arg-type]

    network.teardown_pod = teardown  # type: ignore[method-assign]
    with recording.client() as client:
        sandbox_id = client.run_pod_sandbox(_config("marked"))
        client.stop_pod_sandbox(sandbox_id)
    assert seen and seen[0].get(STOPPING) == "1"


def test_complete_sandboxes_are_left_alone(recording: RunningServer) -> None:
    with recording.client() as client:
        sandbox_id = client.run_pod_sandbox(_config("fine"))
    recording.service.start()
    report = recording.service.recovery.last_report
    assert report is not None
    assert (report.interrupted, report.completed, report.stopped) == ((), (), ())
    assert _state(recording, sandbox_id) == PodSandboxState.SANDBOX_READY
    assert recording.service.network.attached == {sandbox_id: "10.0.0.2"}


def test_engine_down_at_start_defers_recovery_and_never_collects_blind(
    recording: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("kubert.recovery.RETRY_SECONDS", 0.05)
    with recording.client() as client:
        sandbox_id = client.run_pod_sandbox(_config("kept"))
    network = recording.service.network
    collected_before = len(network.collected)
    runtime = recording.runtime
    real_list = runtime.list_sandboxes
    failures = [3]

    def list_sandboxes(filter: object) -> object:  # the engine is away three times (injected)
        if failures[0] > 0:
            failures[0] -= 1
            raise UnavailableError("memory", "engine stopped (injected)")
        return real_list(filter)

    monkeypatch.setattr(runtime, "list_sandboxes", list_sandboxes)
    recording.service.start()  # does not raise: the server must come up and say not ready
    assert len(network.collected) == collected_before  # no GC without the list of sandboxes
    assert eventually(lambda: len(network.collected) > collected_before, timeout=10,
                      interval=0.05)
    assert network.collected[-1] == {sandbox_id}
    assert network.attached == {sandbox_id: "10.0.0.2"}


def test_stale_checkpoint_temp_files_are_removed_at_start(
    cri_server_factory: Callable[..., RunningServer],
) -> None:
    first = cri_server_factory()
    directory = first.service.checkpoints.directory
    stale = directory / f".{'a' * 64}.json.tmp-123-456"
    stale.write_bytes(b'{"half": ')
    first.service.checkpoints.__init__(first.service.checkpoints.context)
    assert not stale.exists()


def test_run_gate_lets_runs_share_and_collection_wait() -> None:
    gate = RunGate()
    inside = threading.Event()
    release = threading.Event()
    collected = threading.Event()

    def run() -> None:
        with gate.shared():
            inside.set()
            release.wait(10)

    def collect() -> None:
        with gate.exclusive():
            collected.set()

    runner = threading.Thread(target=run)
    runner.start()
    assert inside.wait(10)
    with gate.shared():  # a second run is not held up by the first
        pass
    collector = threading.Thread(target=collect)
    collector.start()
    assert not collected.wait(0.2)  # collection waits for the run in flight
    release.set()
    assert collected.wait(10)
    runner.join(10)
    collector.join(10)


def test_a_checkpoint_store_that_cannot_write_does_not_block_stop(
    cri_server_factory: Callable[..., RunningServer],
) -> None:
    """FaultyCheckpoints (tests/core/faults.py) fails its next write: the stopping mark is
    lost, the stop still happens."""
    server = cri_server_factory(
        network="recording", checkpoint="faulty-file", plugins=(FaultPlugin(),)
    )
    store = server.service.checkpoints
    with server.client() as client:
        sandbox_id = client.run_pod_sandbox(_config("diskfull"))
        store.fail_on_write = store.writes + 1
        client.stop_pod_sandbox(sandbox_id)
        assert client.pod_sandbox_status(sandbox_id).state == PodSandboxState.SANDBOX_NOTREADY
    assert STOPPING not in store.read(sandbox_id).extra
