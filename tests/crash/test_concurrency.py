"""Many threads run random pod lifecycles on overlapping pods (the same names, sometimes the
same attempt, stopping and removing each other's sandboxes) against ``kubert serve`` on docker
+ CNI. Every call must be answered within its deadline (no deadlock), with success or a precise
refusal, and afterwards nothing may leak."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kubert import (
    ContainerConfig,
    ContainerMetadata,
    DeadlineExceededError,
    ImageSpec,
    KubertError,
    PodSandboxConfig,
    PodSandboxMetadata,
    PortMapping,
    UnavailableError,
)
from kubert.cri.client import CriClient
from tests.crash.harness import (
    CALL_TIMEOUT,
    REPORTS,
    Figures,
    KubertProcess,
    Workload,
    check_invariants,
    check_nothing_left,
    is_internal,
    remove_everything,
    thorough,
    timed,
)

pytestmark = [pytest.mark.docker, pytest.mark.cni]

POD_NAMES = ("shared-a", "shared-b", "shared-c")


class Lifecycles:
    """The threads' common state: attempts per pod name and the figures, under one lock."""

    def __init__(self, image: str, workload: Workload, figures: Figures) -> None:
        self.image = image
        self.workload = workload
        self.figures = figures
        self.lock = threading.Lock()
        self.attempts: dict[str, int] = {}
        self.calls = 0
        self.answered = 0

    def run_threads(
        self,
        connect: Callable[[], Any],
        seed: int,
        threads_count: int,
        per_thread: int,
        budget: float,
    ) -> int:
        """``per_thread`` lifecycles in each of ``threads_count`` threads, each on a client of
        its own (``connect()``); how many threads still run after ``budget`` seconds each."""

        def worker(index: int) -> None:
            rng = random.Random(seed + index)
            with connect() as client:
                for number in range(per_thread):
                    self.lifecycle(client, rng, index * 1000 + number)

        threads = [threading.Thread(target=worker, args=(i,), daemon=True)
                   for i in range(threads_count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(budget)
        return sum(thread.is_alive() for thread in threads)

    def summary(self, threads_count: int) -> str:
        return (f"{self.figures.line()}; {threads_count} threads, {self.calls} calls, "
                f"{self.answered} answered")

    def config(self, rng: random.Random) -> PodSandboxConfig:
        name = rng.choice(POD_NAMES)
        with self.lock:
            # One time in four, reuse the latest attempt: two RunPodSandbox of the same pod race.
            attempt = self.attempts.get(name, 0) + (0 if rng.random() < 0.25 else 1)
            self.attempts[name] = attempt
        host_ip = self.workload.host_ip
        return PodSandboxConfig(
            metadata=PodSandboxMetadata(name=name, namespace="busy", uid=f"uid-{name}",
                                        attempt=attempt),
            log_directory=str(self.workload.log_directory / f"{name}-{attempt}"),
            port_mappings=(PortMapping(container_port=80, host_ip=host_ip,
                                       host_port=rng.randrange(20000, 60000)),)
            if host_ip else (),
        )

    def call(self, what: str, action: Callable[[], Any]) -> Any:
        with self.lock:
            self.calls += 1
        try:
            result = action()
        except (UnavailableError, DeadlineExceededError) as error:
            with self.lock:
                self.figures.failures.append(f"{what}: no answer: {error}")
            return None
        except KubertError as error:
            with self.lock:
                self.answered += 1
                if is_internal(error):
                    self.figures.failures.append(f"{what}: {error}")
                else:
                    self.figures.refused += 1
            return None
        with self.lock:
            self.answered += 1
            self.figures.operations += 1
        return result

    def lifecycle(self, client: CriClient, rng: random.Random, number: int) -> None:
        config = self.config(rng)
        sandbox_id = self.call("run", lambda: client.run_pod_sandbox(config))
        if sandbox_id is None:
            return
        for index in range(rng.randrange(0, 3)):
            container = ContainerConfig(
                metadata=ContainerMetadata(name=f"c{number}-{index}"),
                image=ImageSpec(image=self.image), command=("sleep", "3600"),
                log_path=f"c{number}-{index}.log",
            )
            container_id = self.call(
                "create", lambda c=container: client.create_container(sandbox_id, c, config)
            )
            if container_id is not None:
                self.call("start", lambda c=container_id: client.start_container(c))
        # Meddle with someone else's pod now and then.
        others = self.call("list", client.list_pod_sandbox) or []
        if others and rng.random() < 0.5:
            victim = rng.choice(others)
            action = rng.choice((client.stop_pod_sandbox, client.remove_pod_sandbox,
                                 client.pod_sandbox_status))
            self.call(f"meddle {action.__name__}", lambda: action(victim.id))
        if rng.random() < 0.3:
            for container in self.call("list containers", client.list_containers) or []:
                if container.pod_sandbox_id == sandbox_id:
                    self.call("stop container",
                              lambda c=container: client.stop_container(c.id, 0))
        self.call("stop", lambda: client.stop_pod_sandbox(sandbox_id))
        if rng.random() < 0.8:
            self.call("remove", lambda: client.remove_pod_sandbox(sandbox_id))


def test_many_threads_on_overlapping_pods(
    busy_server: KubertProcess, clean_engine: Any, request: pytest.FixtureRequest
) -> None:
    threads_count, per_thread = (12, 8) if thorough(request.config) else (6, 3)
    seed = random.randrange(2**32)
    figures = Figures(name="concurrency", seed=seed)
    workload = Workload(engine=clean_engine, log_directory=busy_server.workdir / "logs",
                        rng=random.Random(seed), figures=figures,
                        host_ip=busy_server.net.gateway if busy_server.net.portmap else "")
    shared = Lifecycles(clean_engine.busybox, workload, figures)
    engine_client = clean_engine.client()

    try:
        with timed(figures):
            busy_server.start()
            # Every call has its own deadline; a thread still running past all of them hangs.
            hung = shared.run_threads(busy_server.client, seed, threads_count, per_thread,
                                      budget=CALL_TIMEOUT * 4 * per_thread)
            assert hung == 0, f"{hung} threads did not finish: deadlock?\n{busy_server.log_tail()}"
            figures.leaks += check_invariants(busy_server, engine_client, "after the threads")
            remove_everything(busy_server, figures)
            figures.leaks += check_nothing_left(busy_server, engine_client)
            busy_server.stop()
    finally:
        engine_client.close()
        line = shared.summary(threads_count)
        REPORTS.append(line)
        print(line)
    assert shared.calls == shared.answered, "\n".join(figures.failures)
    assert not figures.failures, "\n".join(figures.failures)
    assert not figures.leaks, "\n".join(figures.leaks)
    assert figures.operations > threads_count * per_thread


def test_many_threads_in_memory(
    cri_server_factory: Callable[..., Any], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The same on the in-memory runtime, with many more threads and calls: the core's locks
    (per sandbox, per pod attempt, the run gate) under pressure."""
    server = cri_server_factory()
    threads_count, per_thread = (32, 40) if thorough(request.config) else (16, 12)
    seed = random.randrange(2**32)
    figures = Figures(name="concurrency (memory)", seed=seed)
    workload = Workload(engine=None, log_directory=tmp_path / "logs", rng=random.Random(seed),
                        figures=figures)
    shared = Lifecycles("busybox:latest", workload, figures)

    with timed(figures):
        hung = shared.run_threads(server.client, seed, threads_count, per_thread,
                                  budget=CALL_TIMEOUT * per_thread)
        assert hung == 0, "deadlock?"
        with server.client() as client:
            for sandbox in client.list_pod_sandbox():
                client.stop_pod_sandbox(sandbox.id)
                client.remove_pod_sandbox(sandbox.id)
            assert client.list_pod_sandbox() == [] and client.list_containers() == []
    REPORTS.append(shared.summary(threads_count))
    assert shared.calls == shared.answered, "\n".join(figures.failures)
    assert not figures.failures, "\n".join(figures.failures)
    assert server.service.checkpoints.list() == []
    assert len(server.service._locks) == 0  # every per-sandbox lock was released
