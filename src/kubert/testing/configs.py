"""ConfigFactory: turns the suite's small specs into full CRI configs valid for a real engine.

A backend author supplies the image names and the long-running command through fixtures
(see :mod:`kubert.testing.suite`); the factory uses only commands busybox has
(``sleep 3600``, ``sh -c "exit N"``). Every factory carries a random token that goes into pod
UIDs, so sandboxes of one test never collide with those of another on a shared engine.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from typing import Any

import attrs
from attrs import define, field

from kubert.model import (
    ContainerConfig,
    ContainerMetadata,
    ImageSpec,
    PodSandboxConfig,
    PodSandboxMetadata,
)
from kubert.testing.strategies import ContainerSpec, SandboxSpec

__all__ = ["ConfigFactory"]


def _token() -> str:
    return uuid.uuid4().hex[:8]


@define
class ConfigFactory:
    """Builds sandbox and container configs.

    :ivar images: container images the suite may use; the first must be present (or
        pullable) before the suite starts.
    :ivar run_command: argv of a container that keeps running until stopped.
    :ivar token: mixed into every pod UID.
    """

    images: Sequence[str] = ("busybox:latest",)
    run_command: tuple[str, ...] = ("sleep", "3600")
    token: str = field(factory=_token)
    _counter: itertools.count[int] = field(factory=lambda: itertools.count(1), repr=False)

    def exit_command(self, code: int) -> tuple[str, ...]:
        """argv of a container that exits with ``code`` as soon as it starts."""
        return ("sh", "-c", f"exit {code}")

    def sandbox(self, spec: SandboxSpec | None = None, **changes: Any) -> PodSandboxConfig:
        """A sandbox config from ``spec`` (a fresh unique name when None); ``changes`` are
        PodSandboxConfig fields to override (``metadata`` too)."""
        if spec is None:
            spec = SandboxSpec(name=f"pod-{next(self._counter)}")
        config = PodSandboxConfig(
            metadata=PodSandboxMetadata(
                name=spec.name,
                namespace=spec.namespace,
                uid=f"{spec.uid}-{self.token}",
                attempt=spec.attempt,
            ),
            hostname=spec.name,
            labels=spec.labels,
            annotations=spec.annotations,
        )
        return attrs.evolve(config, **changes) if changes else config

    def container(self, spec: ContainerSpec | None = None, **changes: Any) -> ContainerConfig:
        """A container config from ``spec`` (a fresh unique running one when None)."""
        if spec is None:
            spec = ContainerSpec(name=f"ctr-{next(self._counter)}")
        argv = self.run_command if spec.exit_code is None else self.exit_command(spec.exit_code)
        config = ContainerConfig(
            metadata=ContainerMetadata(name=spec.name, attempt=spec.attempt),
            image=ImageSpec(image=self.images[spec.image % len(self.images)]),
            command=argv[:1],
            args=argv[1:],
            labels=spec.labels,
            annotations=spec.annotations,
        )
        return attrs.evolve(config, **changes) if changes else config
