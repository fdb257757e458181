"""Fixtures of the docker backend tests: backends on the session's private engine, pod configs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kubert
from kubert_docker.images import DockerImages
from kubert_docker.runtime import DockerRuntime
from tests.fixtures.docker_helpers import PodMaker, make_runtime


@pytest.fixture(scope="module")
def runtime(
    docker_engine: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DockerRuntime]:
    """One docker runtime backend for the module (the engine is shared; tests clean up)."""
    backend = make_runtime(docker_engine, tmp_path_factory.mktemp("docker-root"))
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def images(docker_engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerImages]:
    backend = DockerImages(
        kubert.BackendContext(root_dir=tmp_path_factory.mktemp("docker-images"),
                         options=docker_engine.backend_options())
    )
    yield backend
    backend.close()


@pytest.fixture
def docker_server(cri_server_factory: Any, docker_engine: Any) -> Any:
    """kubert serving CRI on its socket with the docker backends on the private engine."""
    import kubert_docker.plugin

    return cri_server_factory(
        runtime="docker", image="docker", network="noop",
        options={"docker": docker_engine.backend_options()},
        plugins=(kubert_docker.plugin,), pod_infra_image=docker_engine.pause,
    )


@pytest.fixture
def pods(runtime: DockerRuntime, docker_engine: Any, tmp_path: Path) -> Iterator[PodMaker]:
    maker = PodMaker(runtime, docker_engine, tmp_path / "logs")
    yield maker
    maker.cleanup()

