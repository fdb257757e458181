"""The state-machine test as a suite class: random lifecycles against the reference model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kubert.backends import ImageBackend, RuntimeBackend
from kubert.testing.configs import ConfigFactory
from kubert.testing.suite.base import BackendFixtures, Pods
from kubert.testing.suite.stateful import MachineSetup, run_machine

__all__ = ["StateMachineTests"]


class StateMachineTests(BackendFixtures):
    def test_random_lifecycles_match_the_reference_model(
        self,
        backend: RuntimeBackend,
        image_backend: ImageBackend | None,
        pods: Pods,
        configs: ConfigFactory,
        container_images: Sequence[str],
        pullable_images: Sequence[str],
        supports_image_pull: bool,
        supports_exit_container: bool,
        settle_seconds: float,
        hypothesis_settings: dict[str, Any],
    ) -> None:
        # ``pods`` made the infra image and the first container image present.
        setup = MachineSetup(
            backend=backend,
            image_backend=image_backend,
            configs=configs,
            container_images=tuple(container_images),
            pullable_images=tuple(pullable_images) if supports_image_pull else (),
            pull=supports_image_pull,
            exit_container=supports_exit_container,
            settle_seconds=settle_seconds,
        )
        run_machine(setup, **hypothesis_settings)
