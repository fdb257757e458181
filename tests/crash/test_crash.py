"""Kill kubert at random moments and between the steps of RunPodSandbox, stop and remove; after
every restart the engine, checkpoints, CNI cache, leases and veths must agree, and at the end
removing everything through the CRI must leave nothing at all.

CI runs a short profile; ``--run-slow`` or ``KUBERT_THOROUGH=1`` runs the long one. The seed is
printed (and taken from ``KUBERT_CRASH_SEED``) so a failing run can be replayed.
"""

from __future__ import annotations

import os
import random
from typing import Any

import pytest

from kubert import UnavailableError
from kubert.crashpoint import CRASH_POINTS
from tests.crash.harness import (
    REPORTS,
    Figures,
    KubertProcess,
    Workload,
    attempt,
    check_invariants,
    check_nothing_left,
    kill_during,
    list_engine,
    remove_everything,
    thorough,
    timed,
)
from tests.fixtures.pods import start_sleeper

pytestmark = [pytest.mark.docker, pytest.mark.cni]

#: (kill rounds, most operations per round) of each profile.
CI_PROFILE = (10, 6)
LONG_PROFILE = (80, 12)


@pytest.mark.timeout(3600)  # the long profile; the CI one takes well under a minute
def test_kill_anywhere_leaks_nothing(
    crash_server: KubertProcess, clean_engine: Any, request: pytest.FixtureRequest
) -> None:
    rounds, max_ops = LONG_PROFILE if thorough(request.config) else CI_PROFILE
    seed = int(os.environ.get("KUBERT_CRASH_SEED") or random.randrange(2**32))
    rng = random.Random(seed)
    figures = Figures(name="crash harness", seed=seed)
    workload = Workload(
        engine=clean_engine, log_directory=crash_server.workdir / "logs", rng=rng,
        figures=figures, host_ip=crash_server.net.gateway if crash_server.net.portmap else "",
    )
    engine_client = clean_engine.client()
    try:
        with timed(figures):
            crash_server.start()
            for number in range(rounds):
                # Half the rounds die at a named step; the others at a random moment.
                point = rng.choice(CRASH_POINTS) if number % 2 == 0 else None
                if point is not None:
                    crash_server.kill()
                    crash_server.start(crash_at=point)
                _one_round(crash_server, workload, figures, rng, max_ops, point)
                crash_server.kill()
                figures.kills += 1
                crash_server.start()
                figures.leaks += check_invariants(crash_server, engine_client, f"round {number}")
                figures.restarts_checked += 1
            remove_everything(crash_server, figures)
            figures.leaks += check_nothing_left(crash_server, engine_client)
            crash_server.stop()
    finally:
        engine_client.close()
        REPORTS.append(figures.line())
        print(figures.line())
    assert figures.operations > 0
    assert not figures.failures, "\n".join(figures.failures) + "\n" + crash_server.log_tail()
    assert not figures.leaks, "\n".join(figures.leaks) + "\n" + crash_server.log_tail()


def _operation_reaching(point: str | None) -> str | None:
    """The workload operation that passes crash point ``point``."""
    if point is None:
        return None
    if point == "run:undoing":
        return "run-failing"
    return {"run": "run", "stop": "stop-sandbox", "remove": "remove-sandbox"}[
        point.split(":")[0]
    ]


def _one_round(
    server: KubertProcess, workload: Workload, figures: Figures, rng: random.Random,
    max_ops: int, point: str | None,
) -> None:
    """Operations until the server dies at its crash point, or a SIGKILL at a random one."""
    kill_at = rng.randrange(1, max_ops + 1)
    prefer = _operation_reaching(point)
    with server.client() as client:
        for index in range(max_ops):
            figures.operations += 1
            label = f"round op {index}"
            if point is None and index + 1 == kill_at:
                kill_during(server, figures, label, lambda: workload.step(client, prefer),
                            rng.uniform(0.0, 0.6))
                return
            answered = attempt(figures, label, lambda: workload.step(client, prefer))
            if not answered and not server.exited(5.0):
                figures.failures.append(f"{label}: UNAVAILABLE from a server that is running")
            if not server.alive:
                if point is not None:
                    figures.crash_points += 1
                    figures.points_hit.add(point)
                return


def test_retried_run_pod_sandbox_after_a_crash_starts_clean(
    crash_server: KubertProcess, clean_engine: Any
) -> None:
    """Killed between create and start, the same RunPodSandbox retried succeeds and the
    leftover of the first try is listed NOTREADY and removable."""
    workload = Workload(engine=clean_engine, log_directory=crash_server.workdir / "logs",
                        rng=random.Random(1), figures=Figures(name="retry"),
                        host_ip=crash_server.net.gateway if crash_server.net.portmap else "")
    config = workload.sandbox_config("retry")
    crash_server.start(crash_at="run:checkpointed")
    with crash_server.client() as client, pytest.raises(UnavailableError):
        client.run_pod_sandbox(config)
    crash_server.kill()
    crash_server.start()
    engine_client = clean_engine.client()
    try:
        with crash_server.client() as client:
            leftovers = client.list_pod_sandbox()
            assert [s.state.name for s in leftovers] == ["SANDBOX_NOTREADY"]
            sandbox_id = client.run_pod_sandbox(config)
            assert client.pod_sandbox_status(sandbox_id).state.name == "SANDBOX_READY"
            if crash_server.net.portmap:  # the host port is published (the check is not idle)
                assert crash_server.net.portmap_owners() == {sandbox_id}
            assert check_invariants(crash_server, engine_client, "after retry") == []
            for sandbox in client.list_pod_sandbox():
                client.stop_pod_sandbox(sandbox.id)
                client.remove_pod_sandbox(sandbox.id)
                client.remove_pod_sandbox(sandbox.id)  # idempotent
                client.stop_pod_sandbox(sandbox.id)  # idempotent on a gone sandbox
        assert check_nothing_left(crash_server, engine_client) == []
        assert list_engine(engine_client) == {}
    finally:
        engine_client.close()


def test_lost_and_corrupt_checkpoints_leave_everything_removable(
    crash_server: KubertProcess, clean_engine: Any
) -> None:
    """One pod's checkpoint deleted and another's corrupted while kubert was down: both pods
    and their containers are still listed and removable, their network is released, and the
    corrupt file is kept aside for a human, never deleted."""
    workload = Workload(engine=clean_engine, log_directory=crash_server.workdir / "logs",
                        rng=random.Random(2), figures=Figures(name="lost"),
                        host_ip=crash_server.net.gateway if crash_server.net.portmap else "")
    crash_server.start()
    with crash_server.client() as client:
        pods = []
        for name in ("lost", "corrupt"):
            config = workload.sandbox_config(name)
            sandbox_id = client.run_pod_sandbox(config)
            container_id = start_sleeper(client, sandbox_id, config, clean_engine.busybox)
            pods.append((sandbox_id, container_id))
    crash_server.kill()
    checkpoints = crash_server.state_root / "checkpoints"
    (checkpoints / f"{pods[0][0]}.json").unlink()
    (checkpoints / f"{pods[1][0]}.json").write_text('{"version": 1, "checksum": "sha256:0"')
    crash_server.start()
    engine_client = clean_engine.client()
    try:
        with crash_server.client() as client:
            listed = {s.id for s in client.list_pod_sandbox()}
            assert {p[0] for p in pods} <= listed
            assert {p[1] for p in pods} <= {c.id for c in client.list_containers()}
        figures = Figures(name="lost")
        remove_everything(crash_server, figures)
        assert figures.failures == []
        left = check_nothing_left(crash_server, engine_client)
        # Only the corrupt checkpoint, moved aside and kept for inspection.
        assert len(left) == 1 and ".json.corrupt-" in left[0], left
    finally:
        engine_client.close()
