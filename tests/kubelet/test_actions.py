"""compute_pod_actions against hand-built runtime states: the kubelet's rules, case by case."""

from __future__ import annotations

import attrs
import pytest

from kubert.kubelet import (
    LIVENESS_PROBE,
    NOT_IN_SPEC,
    SPEC_CHANGED,
    ProbeVerdicts,
    compute_pod_actions,
)

from .helpers import EXITED, RUNNING, UNKNOWN, container, pod, sandbox, status

TWO = """
metadata: {name: two}
spec:
  restartPolicy: %s
  containers:
  - {name: a, image: busybox:1, command: [sleep, "100"]}
  - {name: b, image: busybox:1, command: [sleep, "100"]}
"""
WITH_INIT = """
metadata: {name: init}
spec:
  restartPolicy: %s
  initContainers:
  - {name: setup, image: busybox:1}
  - {name: side, image: busybox:1, restartPolicy: Always}
  - {name: more, image: busybox:1}
  containers:
  - {name: app, image: busybox:1}
"""


def test_no_sandbox_creates_one_and_starts_every_container() -> None:
    p = pod(TWO % "Always")
    actions = compute_pod_actions(p, status(p, [], []))
    assert actions.create_sandbox and actions.kill_pod and actions.attempt == 0
    assert actions.containers_to_start == ("a", "b")


def test_no_sandbox_with_init_containers_starts_only_the_first() -> None:
    p = pod(WITH_INIT % "Always")
    actions = compute_pod_actions(p, status(p, [], []))
    assert actions.init_containers_to_start == ("setup",)
    assert actions.containers_to_start == ()


@pytest.mark.parametrize("policy", ["Always", "OnFailure", "Never"])
def test_dead_sandbox_is_replaced_with_the_next_attempt(policy: str) -> None:
    p = pod(TWO % policy)
    old = sandbox(p, ready=False, attempt=3)
    actions = compute_pod_actions(p, status(p, [old], []))
    assert actions.create_sandbox and actions.attempt == 4


def test_never_pod_whose_containers_ran_gets_no_new_sandbox() -> None:
    p = pod(TWO % "Never")
    old = sandbox(p, ready=False, attempt=1)
    ran = container(p, "a", old, EXITED, exit_code=0)
    actions = compute_pod_actions(p, status(p, [old], [ran]))
    assert actions.kill_pod and not actions.create_sandbox


def test_sandbox_without_ip_is_replaced_unless_ips_are_not_expected() -> None:
    p = pod(TWO % "Always")
    sb = sandbox(p, ip="")
    assert compute_pod_actions(p, status(p, [sb], [])).create_sandbox
    assert not compute_pod_actions(p, status(p, [sb], []), expect_ip=False).create_sandbox


def test_host_network_change_needs_a_new_sandbox() -> None:
    p = pod(TWO % "Always")
    sb = sandbox(p, host_network=True)
    actions = compute_pod_actions(p, status(p, [sb], []))
    assert actions.create_sandbox and "network namespace" in actions.reasons[0]


def test_pod_level_spec_change_needs_a_new_sandbox() -> None:
    p = pod(TWO % "Always")
    sb = sandbox(p, spec_hash="something-else")
    assert compute_pod_actions(p, status(p, [sb], [])).create_sandbox


def test_changed_container_is_killed_and_restarted_in_the_same_sandbox() -> None:
    p = pod(TWO % "Never")
    sb = sandbox(p)
    a = container(p, "a", sb, RUNNING, hash_="old")
    b = container(p, "b", sb, RUNNING)
    actions = compute_pod_actions(p, status(p, [sb], [a, b]))
    assert not actions.create_sandbox and actions.sandbox_id == sb.id
    assert [(k.name, k.reason) for k in actions.containers_to_kill] == [("a", SPEC_CHANGED)]
    assert actions.containers_to_start == ("a",)


@pytest.mark.parametrize(
    ("policy", "restarted"), [("Always", True), ("OnFailure", True), ("Never", False)]
)
def test_liveness_failure_kills_and_restarts_per_policy(policy: str, restarted: bool) -> None:
    p = pod(TWO % policy)
    sb = sandbox(p)
    a = container(p, "a", sb, RUNNING)
    b = container(p, "b", sb, RUNNING)
    actions = compute_pod_actions(p, status(p, [sb], [a, b]), ProbeVerdicts(liveness_failed={a.id}))
    assert [(k.name, k.reason) for k in actions.containers_to_kill] == [("a", LIVENESS_PROBE)]
    assert actions.containers_to_start == (("a",) if restarted else ())


@pytest.mark.parametrize(
    ("policy", "code", "restarted"),
    [
        ("Always", 0, True),
        ("Always", 1, True),
        ("OnFailure", 0, False),
        ("OnFailure", 2, True),
        ("Never", 0, False),
        ("Never", 1, False),
    ],
)
def test_exited_container_restarts_per_policy_and_exit_code(
    policy: str, code: int, restarted: bool
) -> None:
    p = pod(TWO % policy)
    sb = sandbox(p)
    a = container(p, "a", sb, EXITED, exit_code=code)
    b = container(p, "b", sb, RUNNING)
    actions = compute_pod_actions(p, status(p, [sb], [a, b]))
    assert actions.containers_to_start == (("a",) if restarted else ())
    assert not actions.kill_pod


def test_pod_is_done_when_nothing_runs_or_restarts() -> None:
    p = pod(TWO % "OnFailure")
    sb = sandbox(p)
    a = container(p, "a", sb, EXITED, exit_code=0)
    b = container(p, "b", sb, EXITED, exit_code=0)
    actions = compute_pod_actions(p, status(p, [sb], [a, b]))
    assert actions.kill_pod and not actions.create_sandbox


def test_unknown_container_is_killed_and_restarted() -> None:
    p = pod(TWO % "Never")
    sb = sandbox(p)
    a = container(p, "a", sb, UNKNOWN)
    b = container(p, "b", sb, RUNNING)
    actions = compute_pod_actions(p, status(p, [sb], [a, b]))
    assert actions.containers_to_start == ("a",)
    assert [k.name for k in actions.containers_to_kill] == ["a"]


def test_container_removed_from_spec_is_killed() -> None:
    p = pod(TWO % "Always")
    sb = sandbox(p)
    a = container(p, "a", sb, RUNNING)
    b = container(p, "b", sb, RUNNING)
    gone = container(p, "gone", sb, RUNNING, kind="regular")
    actions = compute_pod_actions(p, status(p, [sb], [a, b, gone]))
    assert [(k.name, k.reason) for k in actions.containers_to_kill] == [("gone", NOT_IN_SPEC)]


def test_init_containers_run_one_at_a_time_in_order() -> None:
    p = pod(WITH_INIT % "Always")
    sb = sandbox(p)
    setup_running = container(p, "setup", sb, RUNNING)
    assert compute_pod_actions(p, status(p, [sb], [setup_running])).is_noop
    setup_done = container(p, "setup", sb, EXITED, exit_code=0)
    actions = compute_pod_actions(p, status(p, [sb], [setup_done]))
    assert actions.init_containers_to_start == ("side",)
    side = container(p, "side", sb, RUNNING)
    actions = compute_pod_actions(p, status(p, [sb], [setup_done, side]))
    assert actions.init_containers_to_start == ("more",)
    more = container(p, "more", sb, EXITED, exit_code=0)
    actions = compute_pod_actions(p, status(p, [sb], [setup_done, side, more]))
    assert actions.containers_to_start == ("app",)


def test_sidecar_waits_for_its_startup_probe_before_the_next_init_container() -> None:
    p = pod(WITH_INIT % "Always")
    sb = sandbox(p)
    setup = container(p, "setup", sb, EXITED)
    side = container(p, "side", sb, RUNNING)
    actions = compute_pod_actions(
        p, status(p, [sb], [setup, side]), ProbeVerdicts(not_started={side.id})
    )
    assert actions.is_noop


def test_failed_init_container_restarts_or_fails_the_pod() -> None:
    for policy, kill in (("OnFailure", False), ("Never", True)):
        p = pod(WITH_INIT % policy)
        sb = sandbox(p)
        setup = container(p, "setup", sb, EXITED, exit_code=1)
        actions = compute_pod_actions(p, status(p, [sb], [setup]))
        assert actions.kill_pod is kill
        assert actions.init_containers_to_start == (() if kill else ("setup",))


def test_exited_sidecar_restarts_even_under_never() -> None:
    p = pod(WITH_INIT % "Never")
    sb = sandbox(p)
    setup = container(p, "setup", sb, EXITED)
    side = container(p, "side", sb, EXITED, exit_code=1)
    more = container(p, "more", sb, EXITED)
    app = container(p, "app", sb, RUNNING)
    actions = compute_pod_actions(p, status(p, [sb], [setup, side, more, app]))
    assert actions.init_containers_to_start == ("side",)
    assert actions.containers_to_start == ()


def test_new_sandbox_runs_init_containers_again() -> None:
    p = pod(WITH_INIT % "Always")
    old = sandbox(p, ready=False)
    done = [container(p, n, old, EXITED) for n in ("setup", "more")]
    new = sandbox(p, attempt=1)
    actions = compute_pod_actions(p, status(p, [old, new], done))
    assert actions.init_containers_to_start == ("setup",)


def test_resource_change_is_a_resize_not_a_restart() -> None:
    p = pod(TWO % "Always")
    sb = sandbox(p)
    a = container(p, "a", sb, RUNNING)
    b = container(p, "b", sb, RUNNING)
    assert compute_pod_actions(p, status(p, [sb], [a, b])).is_noop
    bigger = attrs.evolve(
        p.spec.containers[0],
        resources=attrs.evolve(p.spec.containers[0].resources, limits={"memory": "64Mi"}),
    )
    p2 = attrs.evolve(p, spec=attrs.evolve(p.spec, containers=(bigger, p.spec.containers[1])))
    a_with = attrs.evolve(
        a,
        status=attrs.evolve(
            a.status,
            annotations={
                **a.status.annotations,
                "kubert.io/resources": '{"memory_limit_in_bytes": 0}',
            },
        ),
    )
    actions = compute_pod_actions(p2, status(p2, [sb], [a_with, b]))
    assert actions.containers_to_kill == ()
    assert [r.container.name for r in actions.containers_to_resize] == ["a"]
    assert actions.containers_to_resize[0].resources.memory_limit_in_bytes == 64 * 2**20
