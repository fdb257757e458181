"""kubert.testing's conformance suite, run against the docker backends on the private engine."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

import kubert
from kubert.testing.suite import BackendSuite
from kubert_docker.images import DockerImages
from kubert_docker.runtime import DockerRuntime

pytestmark = pytest.mark.docker


class TestDockerConformance(BackendSuite):
    @pytest.fixture
    def backend(self, docker_engine: Any, tmp_path: Path) -> Iterator[DockerRuntime]:
        runtime = DockerRuntime(
            kubert.BackendContext(
                root_dir=tmp_path, options=docker_engine.backend_options(),
                pod_infra_container_image=docker_engine.pause,
            )
        )
        yield runtime
        runtime.close()

    @pytest.fixture
    def image_backend(
        self, docker_engine: Any, docker_registry: Any, tmp_path: Path
    ) -> Iterator[DockerImages]:
        # The suite pulls Docker Hub names; the test registry serves them as a mirror.
        options = {**docker_engine.backend_options(),
                   "registry_mirrors": [f"docker.io={docker_registry.host}"]}
        images = DockerImages(kubert.BackendContext(root_dir=tmp_path, options=options))
        yield images
        images.close()

    @pytest.fixture
    def container_images(self, docker_engine: Any) -> Sequence[str]:
        return (docker_engine.busybox,)

    @pytest.fixture
    def pullable_images(self, docker_registry: Any) -> Sequence[str]:
        return tuple(docker_registry.mirrored)

    @pytest.fixture
    def missing_image(self, docker_registry: Any) -> str:
        return f"{docker_registry.host}/kubert/no-such-image:0"

    @pytest.fixture
    def hypothesis_settings(self) -> dict[str, Any]:
        # A real engine takes ~0.1 s per container start; few examples keep CI short.
        return {"max_examples": 3, "stateful_step_count": 8}
