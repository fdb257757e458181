"""Deliberately broken backends must fail the state machine with a short counterexample.

Each is a MemoryBackend subclass with one realistic bug; the suite's state machine runs
against it and must raise, and the shrunk list of steps hypothesis reports must be short.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import Phase

from kubert import (
    BackendContext,
    Container,
    ContainerFilter,
    ContainerState,
    PodSandbox,
    PodSandboxFilter,
)
from kubert.testing.configs import ConfigFactory
from kubert.testing.memory import MemoryBackend
from kubert.testing.suite import MachineSetup, run_machine


class ForgetsExitedContainers(MemoryBackend):
    """Lists only containers that have not exited (a stale cache of 'ps' output)."""

    def list_containers(self, filter: ContainerFilter | None) -> list[Container]:
        return [
            c for c in super().list_containers(filter)
            if c.state != ContainerState.CONTAINER_EXITED
        ]


class LeaksInternalLabel(MemoryBackend):
    """Returns its own bookkeeping label with every listed sandbox."""

    def list_sandboxes(self, filter: PodSandboxFilter | None) -> list[PodSandbox]:
        return [
            PodSandbox(
                id=s.id, metadata=s.metadata, state=s.state, created_at=s.created_at,
                labels={**s.labels, "io.kubert.internal/type": "sandbox"},
                annotations=s.annotations, runtime_handler=s.runtime_handler,
            )
            for s in super().list_sandboxes(filter)
        ]


class RestartsExitedContainers(MemoryBackend):
    """Treats start of an exited container as a restart instead of refusing it."""

    def start_container(self, container_id: str) -> None:
        with self._lock:
            container = self._container(container_id)
            if container.state == ContainerState.CONTAINER_EXITED:
                container.state = ContainerState.CONTAINER_CREATED
        super().start_container(container_id)


def _run(backend: MemoryBackend) -> AssertionError:
    setup = MachineSetup(
        backend=backend,
        image_backend=backend,
        configs=ConfigFactory(),
        container_images=("busybox:latest",),
        pullable_images=("busybox:1.36", "alpine:3.20"),
        exit_container=True,
        settle_seconds=0.0,
    )
    with pytest.raises(AssertionError) as caught:
        # Deterministic, so the test never flakes; no explain phase, which only adds time.
        run_machine(
            setup, max_examples=1000, stateful_step_count=25, database=None, derandomize=True,
            phases=[Phase.generate, Phase.shrink],
        )
    return caught.value


def _steps(error: AssertionError) -> list[str]:
    """The rule calls of hypothesis's falsifying example (invariant checks left out)."""
    notes = getattr(error, "__notes__", [])
    return [
        n for n in notes
        if "state." in n and "agrees_with_model" not in n and "teardown" not in n
        and "BackendStateMachine()" not in n
    ]


@pytest.fixture
def context(tmp_path: Path) -> Iterator[BackendContext]:
    yield BackendContext(root_dir=tmp_path)


@pytest.mark.parametrize(
    ("broken", "symptom"),
    [
        (ForgetsExitedContainers, "the containers listed"),
        (LeaksInternalLabel, "io.kubert.internal/type"),
        (RestartsExitedContainers, "the reference model FailedPreconditionError"),
    ],
)
def test_broken_backend_fails_with_short_counterexample(
    context: BackendContext, broken: type[MemoryBackend], symptom: str
) -> None:
    error = _run(broken(context))
    assert symptom in str(error)
    steps = _steps(error)
    print("\n".join([str(error), *getattr(error, "__notes__", [])]))
    assert 1 <= len(steps) <= 6, steps
