"""Fixtures of the docker backend tests: backends on the session's private engine, pod configs."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import kubert as k
from kubert_docker.images import DockerImages
from kubert_docker.runtime import DockerRuntime


def make_runtime(engine: Any, root: Path, **options: Any) -> DockerRuntime:
    return DockerRuntime(
        k.BackendContext(
            root_dir=root,
            options={**engine.backend_options(), **options},
            pod_infra_container_image=engine.pause,
        )
    )


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
        k.BackendContext(root_dir=tmp_path_factory.mktemp("docker-images"),
                         options=docker_engine.backend_options())
    )
    yield backend
    backend.close()


class PodMaker:
    """Makes sandboxes and containers through the backend; removes them all afterwards."""

    def __init__(self, runtime: DockerRuntime, engine: Any, log_dir: Path) -> None:
        self.runtime = runtime
        self.engine = engine
        self.log_dir = log_dir
        self.sandboxes: list[str] = []
        self.configs: dict[str, k.PodSandboxConfig] = {}
        self._count = 0

    def sandbox_config(self, **kwargs: Any) -> k.PodSandboxConfig:
        self._count += 1
        metadata = kwargs.pop("metadata", None) or k.PodSandboxMetadata(
            name=f"pod{self._count}", uid=f"uid-{time.time_ns()}", namespace="test"
        )
        kwargs.setdefault("log_directory", str(self.log_dir / metadata.uid))
        return k.PodSandboxConfig(metadata=metadata, **kwargs)

    def sandbox(self, config: k.PodSandboxConfig | None = None, **kwargs: Any) -> str:
        config = config or self.sandbox_config(**kwargs)
        created = self.runtime.create_sandbox(config, "")
        self.sandboxes.append(created.id)
        self.configs[created.id] = config
        self.runtime.start_sandbox(created.id)
        return created.id

    def container_config(self, *args: str, name: str = "c", **kwargs: Any) -> k.ContainerConfig:
        kwargs.setdefault("image", k.ImageSpec(image=self.engine.busybox))
        if args:
            kwargs.setdefault("command", args)
        kwargs.setdefault("log_path", f"{name}.log")
        return k.ContainerConfig(metadata=k.ContainerMetadata(name=name), **kwargs)

    def container(
        self, sandbox_id: str, *args: str, start: bool = True, **kwargs: Any
    ) -> str:
        config = self.container_config(*args, **kwargs)
        cid = self.runtime.create_container(sandbox_id, config, self.configs[sandbox_id])
        if start:
            self.runtime.start_container(cid)
        return cid

    def run(self, *args: str, **kwargs: Any) -> str:
        """A running container (``args`` then a long sleep) in a new sandbox."""
        sandbox_kwargs = kwargs.pop("sandbox", {})
        sandbox_id = self.sandbox(**sandbox_kwargs)
        return self.container(sandbox_id, *args, **kwargs)

    def exec(self, cid: str, script: str) -> str:
        result = self.runtime.exec_sync(cid, ["sh", "-c", script], 20)
        assert result.exit_code == 0, (script, result)
        return result.stdout.decode()

    def cleanup(self) -> None:
        for sandbox_id in self.sandboxes:
            with contextlib.suppress(k.NotFoundError):
                self.runtime.remove_sandbox(sandbox_id)


@pytest.fixture
def pods(runtime: DockerRuntime, docker_engine: Any, tmp_path: Path) -> Iterator[PodMaker]:
    maker = PodMaker(runtime, docker_engine, tmp_path / "logs")
    yield maker
    maker.cleanup()


def wait_until(predicate: Callable[[], Any], seconds: float = 10.0) -> Any:
    """Poll ``predicate`` until it returns something truthy or ``seconds`` pass (bounded)."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)
