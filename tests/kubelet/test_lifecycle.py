"""preStop inside the grace period and the pod's one grace budget (memory runtime over a real
CRI socket, FakeClock so that a ``sleep`` hook takes fake seconds).

StopContainer's timeout is otherwise invisible, so the test's client records it on the way
through (every call still goes to the real server; nothing is faked)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kubert.cri.client import CriClient
from kubert.kubelet import FakeClock, Pod, RuntimeManager, load_pods
from kubert.model import ExecSyncResult
from tests.fixtures.server import RunningServer

from .conftest import new_manager, unique_name
from .helpers import RUNNING, container, sandbox


class Recording:
    """The CRI client, recording StopContainer timeouts and ExecSync commands in order."""

    def __init__(self, cri: CriClient) -> None:
        self.cri = cri
        self.calls: list[tuple[str, Any]] = []
        self.names: dict[str, str] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cri, name)

    def stop_container(self, container_id: str, timeout: int) -> None:
        name = self.cri.container_status(container_id).metadata.name
        self.calls.append(("stop", (name, timeout)))
        self.cri.stop_container(container_id, timeout)

    def exec_sync(self, container_id: str, cmd: Sequence[str], timeout: int = 0) -> ExecSyncResult:
        name = self.cri.container_status(container_id).metadata.name
        self.calls.append(("exec", (name, tuple(cmd))))
        return self.cri.exec_sync(container_id, cmd, timeout)


TEXT = """
metadata: {name: %s}
spec:
  terminationGracePeriodSeconds: 10
  initContainers:
  - name: side1
    image: 'busybox:1.36'
    restartPolicy: Always
    command: [sleep, '9999']
    lifecycle: {preStop: {sleep: {seconds: 6}}}
  - name: side2
    image: 'busybox:1.36'
    restartPolicy: Always
    command: [sleep, '9999']
    lifecycle: {preStop: {exec: {command: ['true']}}}
  containers:
  - name: main
    image: 'busybox:1.36'
    command: [sleep, '9999']
    lifecycle: {preStop: {sleep: {seconds: 3}}}
"""


def running_pod(
    cri: CriClient, tmp_path: Path, prefix: str
) -> tuple[Recording, RuntimeManager, FakeClock, Pod]:
    """TEXT's pod synced until its sidecars and main container run, over a Recording."""
    recording = Recording(cri)
    manager, clock = new_manager(recording, tmp_path)  # type: ignore[arg-type]
    pod = load_pods(TEXT % unique_name(prefix))[0]
    for _ in range(3):
        manager.sync_pod(pod)
    return recording, manager, clock, pod


def test_pre_stop_hooks_spend_the_grace_and_sidecars_stop_last_in_reverse(
    memory_server: RunningServer, memory_cri: CriClient, tmp_path: Path
) -> None:
    recording, manager, clock, pod = running_pod(memory_cri, tmp_path, "hooks")
    assert {c.name for c in manager.observe(pod.uid).running_containers()} == {
        "side1", "side2", "main"
    }
    recording.calls.clear()
    began = clock.now()
    manager.delete_pod(pod.uid, pod)
    # main: its 3 s preStop, then the 7 s left of 10; side2 next (reverse order) with what the
    # main containers left of the one budget; side1 last, its 6 s sleep leaves under the
    # minimum of 2 s.
    assert recording.calls == [
        ("stop", ("main", 7)),
        ("exec", ("side2", ("true",))),
        ("stop", ("side2", 7)),
        ("stop", ("side1", 2)),
    ]
    assert clock.now() - began == 9  # the two sleep hooks, in fake seconds


def test_grace_is_at_least_two_seconds_and_a_probe_may_set_its_own(
    memory_cri: CriClient, tmp_path: Path
) -> None:
    manager, _ = new_manager(memory_cri, tmp_path)
    pod = load_pods(
        "metadata: {name: g}\nspec:\n  terminationGracePeriodSeconds: 0\n  containers:\n"
        "  - name: a\n    image: 'busybox:1.36'\n"
        "    livenessProbe: {exec: {command: ['true']}, terminationGracePeriodSeconds: 5}\n"
    )[0]
    current = container(pod, "a", sandbox(pod), RUNNING)
    spec = pod.spec.containers[0]
    assert manager.grace_period(pod, current, spec, "SpecChanged") == 2
    assert manager.grace_period(pod, current, spec, "LivenessProbe") == 5


def test_a_deletion_grace_period_overrides_the_pods_within_the_same_rules(
    memory_server: RunningServer, memory_cri: CriClient, tmp_path: Path
) -> None:
    recording, manager, _, pod = running_pod(memory_cri, tmp_path, "grace")
    recording.calls.clear()
    manager.delete_pod(pod.uid, pod, grace_period=5)
    # 5 s instead of 10: main's 3 s preStop leaves 2; the sidecars get the minimum
    assert [c for c in recording.calls if c[0] == "stop"] == [
        ("stop", ("main", 2)),
        ("stop", ("side2", 2)),
        ("stop", ("side1", 2)),
    ]
