"""Property tests over a real CRI socket (memory backend): random container exits and probe
failures converge to what the kubelet would do: restart or not by policy and exit code, after
exactly the CrashLoopBackOff delay, with the right restart counts and phase.

Time is a FakeClock: the backoff counts from when the manager first saw an exit, and the tests
sync at exact instants around each expected restart.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from attrs import define
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubert.cri.client import CriClient
from kubert.errors import DeadlineExceededError
from kubert.kubelet import Pod, RuntimeManager, load_pods
from kubert.kubelet.podstatus import pod_view
from kubert.model import ExecSyncResult
from tests.fixtures.server import RunningServer

from .conftest import new_manager, unique_name

INITIAL, MAXIMUM, RESET = 10.0, 300.0, 600.0


@define
class ReferenceBackoff:
    """The kubelet's CrashLoopBackOff for one container, written out independently."""

    delay: float = 0.0
    last_update: float | None = None

    def restart_time(self, exited: float) -> float:
        """When a container seen exited at ``exited`` is started again."""
        if self.last_update is None or exited - self.last_update > RESET:
            return exited
        # in back-off until the delay passed, or until the entry expires (quiet > 2 * max)
        return min(exited + self.delay, self.last_update + RESET + 0.001)

    def restarted(self, exited: float) -> None:
        if self.last_update is None or exited - self.last_update > RESET:
            self.delay = INITIAL
        else:
            self.delay = min(self.delay * 2, MAXIMUM)
        self.last_update = exited


def sleeper_pod(name: str, policy: str, count: int, extra: str = "") -> Pod:
    containers = "".join(
        f"  - {{name: c{i}, image: 'busybox:1.36', command: [sleep, '9999']{extra}}}\n"
        for i in range(count)
    )
    return load_pods(
        f"metadata: {{name: {name}}}\nspec:\n  restartPolicy: {policy}\n  containers:\n{containers}"
    )[0]


def running(manager: RuntimeManager, pod: Pod, name: str) -> bool:
    current = manager.observe(pod.uid).find(name)
    return current is not None and current.running


events = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 2), st.sampled_from([0, 0, 5, 100, 700])),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    policy=st.sampled_from(["Always", "OnFailure", "Never"]), count=st.integers(1, 3), script=events
)
def test_random_exits_restart_by_policy_after_the_backoff(
    memory_server: RunningServer,
    memory_cri: CriClient,
    policy: str,
    count: int,
    script: list[tuple[int, int, int]],
) -> None:
    manager, clock = new_manager(memory_cri, Path(tempfile.mkdtemp(prefix="kubert-kl-")))
    pod = sleeper_pod(unique_name("exits"), policy, count)
    names = [c.name for c in pod.spec.containers]
    manager.sync_pod(pod)
    assert all(running(manager, pod, n) for n in names)
    backoff = {n: ReferenceBackoff() for n in names}
    restarts = dict.fromkeys(names, 0)
    final_code: dict[str, int] = {}
    try:
        for index, code, run_for in script:
            name = names[index % count]
            if name in final_code:
                continue
            clock.advance(run_for)
            current = manager.observe(pod.uid).find(name)
            assert current is not None and current.running
            memory_server.runtime.exit_container(current.id, code)
            exited = clock.now()
            manager.sync_pod(pod)  # the manager sees the exit now
            restarts_by_policy = policy == "Always" or (policy == "OnFailure" and code != 0)
            if not restarts_by_policy:
                final_code[name] = code
                clock.advance(MAXIMUM + 1)
                manager.sync_pod(pod)
                assert not running(manager, pod, name)
                continue
            due = backoff[name].restart_time(exited)
            if due > exited:
                assert not running(manager, pod, name)
                view = pod_view(
                    pod,
                    manager.observe(pod.uid),
                    {n: v for (u, n), v in manager.waiting.items() if u == pod.uid},
                )
                assert {c.name: c.reason for c in view.containers}[name] == "CrashLoopBackOff"
                clock.current = due - 0.5
                manager.sync_pod(pod)
                assert not running(manager, pod, name), "restarted before the back-off ended"
                clock.current = due + 0.5
                manager.sync_pod(pod)
            assert running(manager, pod, name), "not restarted when the back-off ended"
            backoff[name].restarted(exited)
            restarts[name] += 1
        status = manager.observe(pod.uid)
        view = pod_view(pod, status)
        for name in names:
            current = status.find(name)
            assert current is not None and current.restart_count == restarts[name]
        if len(final_code) == count:
            expected = "Succeeded" if all(c == 0 for c in final_code.values()) else "Failed"
            if policy == "OnFailure":
                expected = "Succeeded"
            assert view.phase == expected
            assert len(status.sandboxes) == 1 and not view.sandbox_ready
        else:
            assert view.phase == "Running"
            assert len(status.sandboxes) == 1 and view.sandbox_ready
    finally:
        manager.delete_pod(pod.uid, pod)


class FailingExec:
    """Fault injection: the CRI client, except that the next ``failures`` ExecSync calls time
    out, as a hung probe would. Every other call goes to the real server."""

    def __init__(self, cri: CriClient, failures: int) -> None:
        self.cri = cri
        self.failures = failures

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cri, name)

    def exec_sync(self, container_id: str, cmd: Sequence[str], timeout: int = 0) -> ExecSyncResult:
        if self.failures > 0:
            self.failures -= 1
            raise DeadlineExceededError("ExecSync", timeout)
        return self.cri.exec_sync(container_id, cmd, timeout)


def test_liveness_probe_failures_restart_after_the_threshold(
    memory_server: RunningServer, memory_cri: CriClient, tmp_path: Path
) -> None:
    faulty = FailingExec(memory_cri, 0)
    manager, clock = new_manager(faulty, tmp_path)  # type: ignore[arg-type]
    probe = ", livenessProbe: {exec: {command: ['true']}, periodSeconds: 10, failureThreshold: 3}"
    pod = sleeper_pod(unique_name("live"), "Always", 1, probe)
    manager.sync_pod(pod)
    first = manager.observe(pod.uid).find("c0")
    assert first is not None and first.running
    faulty.failures = 3
    for _ in range(2):
        assert manager.probes.run_due() == 1
        manager.sync_pod(pod)
        assert manager.observe(pod.uid).find("c0") == first  # failures below the threshold
        assert manager.probes.run_due() == 0  # not due again within its period
        clock.advance(10)
    assert manager.probes.run_due() == 1
    manager.sync_pod(pod)  # third failure: killed and restarted
    second = manager.observe(pod.uid).find("c0")
    assert second is not None and second.id != first.id and second.running
    assert second.restart_count == 1
    clock.advance(10)
    assert manager.probes.run_due() == 1  # only the new container's probe: it passes
    manager.sync_pod(pod)
    assert manager.observe(pod.uid).find("c0") == second
    manager.delete_pod(pod.uid, pod)


def test_startup_probe_holds_liveness_and_kills_on_failure(
    memory_server: RunningServer, memory_cri: CriClient, tmp_path: Path
) -> None:
    manager, clock = new_manager(memory_cri, tmp_path)
    probes = (
        ", startupProbe: {exec: {command: ['false']}, periodSeconds: 5, failureThreshold: 2}"
        ", livenessProbe: {exec: {command: ['false']}, failureThreshold: 1}"
    )
    pod = sleeper_pod(unique_name("startup"), "Always", 1, probes)
    manager.sync_pod(pod)
    first = manager.observe(pod.uid).find("c0")
    assert first is not None
    view = pod_view(pod, manager.observe(pod.uid))
    # one startup failure; liveness must not run (it would kill at once)
    assert manager.probes.run_due() == 1
    manager.sync_pod(pod)
    assert manager.observe(pod.uid).find("c0") == first
    assert view.phase == "Running"
    clock.advance(5)
    assert manager.probes.run_due() == 1
    manager.sync_pod(pod)  # second startup failure: killed, restarted
    second = manager.observe(pod.uid).find("c0")
    assert second is not None and second.id != first.id and second.restart_count == 1
    manager.delete_pod(pod.uid, pod)


def test_run_as_non_root_is_verified_before_create(
    memory_server: RunningServer, memory_cri: CriClient, tmp_path: Path
) -> None:
    manager, _ = new_manager(memory_cri, tmp_path)
    name = unique_name("nonroot")
    text = (
        f"metadata: {{name: {name}}}\nspec:\n  securityContext: {{runAsNonRoot: true}}\n"
        "  containers:\n"
        "  - {name: root, image: 'busybox:1.36', command: [sleep, '9']}\n"
        "  - {name: user, image: 'busybox:1.36', command: [sleep, '9'],"
        " securityContext: {runAsUser: 1000}}\n"
    )
    pod = load_pods(text)[0]
    result = manager.sync_pod(pod)
    errors = {s.target: s.error for s in result.steps if s.action == "StartContainer"}
    assert errors == {"root": "CreateContainerConfigError", "user": ""}
    assert "will run as root" in manager.waiting[(pod.uid, "root")][1]
    assert running(manager, pod, "user") and manager.observe(pod.uid).find("root") is None
    manager.delete_pod(pod.uid, pod)


init_codes = st.lists(st.sampled_from([0, 0, 0, 1, 3]), max_size=3)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    policy=st.sampled_from(["Always", "OnFailure", "Never"]),
    codes=init_codes,
    sidecar_at=st.one_of(st.none(), st.integers(0, 3)),
    regular=st.integers(1, 2),
)
def test_random_init_sequences_converge(
    memory_cri: CriClient, policy: str, codes: list[int], sidecar_at: int | None, regular: int
) -> None:
    """Init containers run once each, in order, before any regular container; a failing one
    is retried (or fails the pod under Never) and nothing after it ever starts."""
    manager, clock = new_manager(memory_cri, Path(tempfile.mkdtemp(prefix="kubert-kl-")))
    inits = [
        f"  - {{name: i{n}, image: 'busybox:1.36', command: [sh, -c, 'exit {code}']}}\n"
        for n, code in enumerate(codes)
    ]
    if sidecar_at is not None:
        inits.insert(
            min(sidecar_at, len(inits)),
            "  - {name: side, image: 'busybox:1.36', "
            "restartPolicy: Always, command: [sleep, '9999']}\n",
        )
    regulars = "".join(
        f"  - {{name: r{n}, image: 'busybox:1.36', command: [sleep, '9999']}}\n"
        for n in range(regular)
    )
    text = (
        f"metadata: {{name: {unique_name('init')}}}\nspec:\n  restartPolicy: {policy}\n"
        + ("  initContainers:\n" + "".join(inits) if inits else "")
        + f"  containers:\n{regulars}"
    )
    pod = load_pods(text)[0]
    try:
        for _ in range(len(inits) + 4):
            manager.sync_pod(pod)
            clock.advance(MAXIMUM + 1)  # past any back-off, short of its reset
        status = manager.observe(pod.uid)
        view = pod_view(pod, status)
        order = [c.name for c in sorted(status.containers, key=lambda c: c.status.created_at)]
        failing = next((n for n, code in enumerate(codes) if code), None)
        regular_names = {f"r{n}" for n in range(regular)}
        if failing is None:
            assert view.phase == "Running" and view.status == "Running"
            assert {c.name for c in status.running_containers()} >= regular_names
            assert all(c.restart_count == 0 for c in status.containers)
            first_regular = min(order.index(n) for n in regular_names)
            assert all(order.index(f"i{n}") < first_regular for n in range(len(codes)))
            if sidecar_at is not None:
                assert order.index("side") < first_regular and status.find("side").running
            return
        assert not regular_names & set(order), "a regular container ran before init finished"
        assert all(f"i{n}" not in order for n in range(failing + 1, len(codes)))
        failed = status.find(f"i{failing}")
        if policy == "Never":
            assert view.phase == "Failed" and failed.restart_count == 0
            assert not view.sandbox_ready
        else:
            assert view.phase == "Pending" and failed.restart_count >= 1
            assert view.status.startswith("Init:")
    finally:
        manager.delete_pod(pod.uid, pod)


lifecycle_events = st.lists(
    st.one_of(st.tuples(st.integers(0, 1), st.sampled_from([0, 0, 2])), st.just(("sandbox", 0))),
    min_size=1,
    max_size=5,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    policy=st.sampled_from(["Always", "OnFailure", "Never"]),
    inits=st.integers(0, 2),
    regular=st.integers(1, 2),
    script=lifecycle_events,
)
def test_done_containers_and_done_pods_never_run_again(
    memory_server: RunningServer,
    memory_cri: CriClient,
    policy: str,
    inits: int,
    regular: int,
    script: list[tuple[Any, int]],
) -> None:
    """Issue 17's bug 1 as a property: containers exit or the sandbox dies at random; a
    container that is done by its policy (exit 0 under OnFailure, any exit under Never) never
    runs again, in this sandbox or a new one, and a pod with nothing left to run gets no new
    sandbox and runs no init container again."""
    manager, clock = new_manager(memory_cri, Path(tempfile.mkdtemp(prefix="kubert-kl-")))
    init_text = "".join(
        f"  - {{name: i{n}, image: 'busybox:1.36', command: [sh, -c, 'exit 0']}}\n"
        for n in range(inits)
    )
    regulars = "".join(
        f"  - {{name: r{n}, image: 'busybox:1.36', command: [sleep, '9999']}}\n"
        for n in range(regular)
    )
    pod = load_pods(
        f"metadata: {{name: {unique_name('done')}}}\nspec:\n  restartPolicy: {policy}\n"
        + ("  initContainers:\n" + init_text if inits else "")
        + f"  containers:\n{regulars}"
    )[0]
    names = [f"r{n}" for n in range(regular)]

    def settle() -> None:
        for _ in range(inits + 3):
            manager.sync_pod(pod)
            clock.advance(MAXIMUM + 1)

    done: set[str] = set()
    try:
        settle()
        assert all(running(manager, pod, n) for n in names)
        for target, code in script:
            before = manager.observe(pod.uid)
            counts = {n: len(before.all_named(n)) for n in names}
            if target == "sandbox":
                if before.sandbox is None or not any(c.running for c in before.containers):
                    continue
                memory_cri.stop_pod_sandbox(before.sandbox.id)
                if policy == "Never":
                    done.update(names)  # a Never pod whose containers ran is not re-made
            else:
                name = names[target % regular]
                current = before.find(name)
                if current is None or not current.running:
                    continue
                memory_server.runtime.exit_container(current.id, code)
                if policy == "Never" or (policy == "OnFailure" and code == 0):
                    done.add(name)
            settle()
            after = manager.observe(pod.uid)
            for name in done:
                newest = after.find(name)
                assert newest is None or not newest.running, f"{name} runs again"
            for name in names:
                if name not in done:
                    assert running(manager, pod, name), f"{name} was not restarted"
            if target != "sandbox":
                for name in done:
                    # within one sandbox nothing of a done container is ever created again
                    assert len(after.all_named(name)) <= counts[name], name
        if set(names) <= done:
            final = manager.observe(pod.uid)
            sandboxes, containers = len(final.sandboxes), len(final.containers)
            for _ in range(4):
                clock.advance(MAXIMUM + 1)
                manager.sync_pod(pod)
            again = manager.observe(pod.uid)
            assert len(again.sandboxes) == sandboxes, "a done pod got a new sandbox"
            assert len(again.containers) == containers, "a done pod ran a container again"
    finally:
        manager.delete_pod(pod.uid, pod)
