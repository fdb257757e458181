"""The fixtures every suite class uses; a backend author overrides ``backend`` and, as needed,
the image fixtures and the ``supports_…`` capability fixtures.

Capabilities default to True. Declaring one False skips exactly the tests of that feature and
runs one test instead that checks the operation raises :class:`~kubert.UnimplementedError`
(so the CRI server answers UNIMPLEMENTED rather than failing oddly).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from kubert.backends import ImageBackend, RuntimeBackend
from kubert.errors import NotFoundError
from kubert.model import (
    ContainerConfig,
    ContainerState,
    ContainerStatus,
    ImageSpec,
    PodSandboxConfig,
)
from kubert.testing.configs import ConfigFactory

__all__ = ["BackendFixtures", "Pods", "wait_for_container"]


def wait_for_container(
    backend: RuntimeBackend,
    container_id: str,
    done: Callable[[ContainerStatus], bool],
    seconds: float,
) -> ContainerStatus:
    """Poll ``container_status`` until ``done`` holds or ``seconds`` pass; the last status.

    Real engines report a container's own exit a moment after it happens.
    """
    deadline = time.monotonic() + seconds
    status = backend.container_status(container_id)
    while not done(status) and time.monotonic() < deadline:
        time.sleep(0.02)
        status = backend.container_status(container_id)
    return status


def ensure_image(images: ImageBackend | None, ref: str) -> None:
    """Pull ``ref`` unless the image backend already has it (no-op without an image backend)."""
    if images is not None and images.image_status(ImageSpec(image=ref)) is None:
        images.pull_image(ImageSpec(image=ref), None, None)


class Pods:
    """Creates sandboxes and containers for a test and removes them all afterwards."""

    def __init__(self, backend: RuntimeBackend, configs: ConfigFactory, settle: float) -> None:
        self.backend = backend
        self.configs = configs
        self.settle = settle
        self.sandbox_configs: dict[str, PodSandboxConfig] = {}

    def sandbox(self, config: PodSandboxConfig | None = None, start: bool = True) -> str:
        """Create (and by default start) a sandbox; returns its ID."""
        config = config or self.configs.sandbox()
        created = self.backend.create_sandbox(config, "")
        self.sandbox_configs[created.id] = config
        if start:
            self.backend.start_sandbox(created.id)
        return created.id

    def container(
        self, sandbox_id: str, config: ContainerConfig | None = None, start: bool = False
    ) -> str:
        """Create (and optionally start) a container in ``sandbox_id``; returns its ID."""
        config = config or self.configs.container()
        container_id = self.backend.create_container(
            sandbox_id, config, self.sandbox_configs[sandbox_id]
        )
        if start:
            self.backend.start_container(container_id)
        return container_id

    def running(self, sandbox_id: str | None = None) -> tuple[str, str]:
        """A running container (in a new sandbox unless given): (sandbox ID, container ID)."""
        sandbox_id = sandbox_id or self.sandbox()
        return sandbox_id, self.container(sandbox_id, start=True)

    def exited(self, sandbox_id: str, code: int) -> str:
        """A container that exits with ``code`` by itself; waits until the backend says so."""
        config = self.configs.container(command=("sh",), args=("-c", f"exit {code}"))
        container_id = self.container(sandbox_id, config, start=True)
        wait_for_container(
            self.backend, container_id,
            lambda s: s.state == ContainerState.CONTAINER_EXITED, self.settle,
        )
        return container_id

    def cleanup(self) -> None:
        for sandbox_id in self.sandbox_configs:
            with contextlib.suppress(NotFoundError):
                self.backend.remove_sandbox(sandbox_id)


class BackendFixtures:
    """Fixtures of the suite. Override ``backend`` (required) in your test class."""

    @pytest.fixture
    def backend(self) -> RuntimeBackend:
        """REQUIRED override: a fresh backend object (closed by your fixture afterwards).

        It should start empty; if it shares an engine with other tests, the suite still works
        (it ignores objects it did not create) as long as the engine's images are stable.
        """
        raise NotImplementedError(
            "override the `backend` fixture in your test class to return your backend object"
        )

    @pytest.fixture
    def image_backend(self, backend: RuntimeBackend) -> ImageBackend | None:
        """The image backend paired with ``backend``: itself when it is one, else None
        (override to pair a separate image backend). None skips the image tests."""
        return backend if isinstance(backend, ImageBackend) else None

    @pytest.fixture
    def container_images(self) -> Sequence[str]:
        """Images containers run; the first is made present before each test."""
        return ("busybox:latest",)

    @pytest.fixture
    def pullable_images(self) -> Sequence[str]:
        """Images the suite may pull and remove: each a different image (its own ID), used by
        nothing else, and never the infra image or one of ``container_images``. Containers
        are made from them too, so each must run ``run_command``."""
        return ("busybox:1.36", "alpine:3.20")

    @pytest.fixture
    def missing_image(self) -> str | None:
        """A reference whose pull must raise NotFound (None: don't test it)."""
        return "kubert.invalid/no-such-image:0"

    @pytest.fixture
    def run_command(self) -> tuple[str, ...]:
        """argv of a container that runs until stopped."""
        return ("sleep", "3600")

    @pytest.fixture
    def settle_seconds(self) -> float:
        """How long a container that exits by itself may take to be reported EXITED."""
        return 10.0

    @pytest.fixture
    def hypothesis_settings(self) -> dict[str, Any]:
        """hypothesis settings to change for this backend's property and state-machine tests,
        e.g. ``{"max_examples": 5, "stateful_step_count": 10}`` for a slow engine."""
        return {}

    @pytest.fixture
    def configs(
        self, container_images: Sequence[str], run_command: tuple[str, ...]
    ) -> ConfigFactory:
        return ConfigFactory(images=tuple(container_images), run_command=run_command)

    @pytest.fixture
    def pods(
        self,
        backend: RuntimeBackend,
        image_backend: ImageBackend | None,
        configs: ConfigFactory,
        container_images: Sequence[str],
        settle_seconds: float,
    ) -> Iterator[Pods]:
        """Creates pods for a test and removes them afterwards; the infra image and the first
        container image are present before it yields."""
        ensure_image(image_backend, backend.context.pod_infra_container_image)
        ensure_image(image_backend, container_images[0])
        pods = Pods(backend, configs, settle_seconds)
        try:
            yield pods
        finally:
            pods.cleanup()

    # ---- capabilities: override one to return False to declare the feature absent ----------

    @pytest.fixture
    def supports_exec_sync(self) -> bool:
        """ExecSync runs a command in a running container and returns its output and code."""
        return True

    @pytest.fixture
    def supports_stats(self) -> bool:
        """ContainerStats, ListContainerStats, PodSandboxStats, ListPodSandboxStats."""
        return True

    @pytest.fixture
    def supports_events(self) -> bool:
        """container_events() yields CREATED / STARTED / STOPPED / DELETED events."""
        return True

    @pytest.fixture
    def supports_image_pull(self) -> bool:
        """pull_image fetches images (and remove_image deletes them)."""
        return True

    @pytest.fixture
    def supports_update_resources(self) -> bool:
        """UpdateContainerResources changes a container's resources, shown in its status."""
        return True

    @pytest.fixture
    def supports_reopen_log(self) -> bool:
        """ReopenContainerLog works on a running container."""
        return True

    @pytest.fixture
    def supports_exit_container(self, backend: RuntimeBackend) -> bool:
        """The backend has the test helper ``exit_container(id, code)`` (makes a running
        container exit by itself); the state machine then uses it."""
        return callable(getattr(backend, "exit_container", None))


def require(flag: bool, name: str) -> None:
    """Skip the calling test unless capability ``name`` is declared."""
    if not flag:
        pytest.skip(f"the backend declares {name} = False")


def forbid(flag: bool, name: str) -> None:
    """Skip the calling test when capability ``name`` is declared (it tests the absence)."""
    if flag:
        pytest.skip(f"the backend declares {name} = True")
