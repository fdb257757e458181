"""The session fixtures themselves: private engine, local images, registries."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.polling import eventually

pytestmark = pytest.mark.docker


def test_busybox_image_runs_from_the_private_engine(docker_engine: Any, docker_client: Any) -> None:
    out = docker_client.containers.run(
        docker_engine.busybox, ["sh", "-c", "echo hi; id -u"], remove=True, network_mode="none"
    )
    assert out.decode().split() == ["hi", "0"]
    assert docker_client.info()["DockerRootDir"] == str(docker_engine.data_root)


def _catches_sigterm(pid: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    return False


def test_pause_image_exits_on_sigterm(docker_engine: Any, docker_client: Any) -> None:
    container = docker_client.containers.run(docker_engine.pause, detach=True, network_mode="none")
    try:
        # A signal that arrives before the handler is installed would kill it instead.
        pid = docker_client.api.inspect_container(container.id)["State"]["Pid"]
        eventually(lambda: _catches_sigterm(pid), timeout=10, interval=0.01)
        container.stop(timeout=10)
        container.reload()
        assert container.attrs["State"]["ExitCode"] == 0
    finally:
        container.remove(force=True)


def test_registries_serve_pushed_images(docker_client: Any, docker_registry: Any,
                                        docker_auth_registry: Any) -> None:
    import docker

    docker_client.images.pull(docker_registry.busybox)
    with pytest.raises(docker.errors.APIError):
        docker_client.images.pull(docker_auth_registry.busybox)
    docker_client.images.pull(
        docker_auth_registry.busybox, auth_config=docker_auth_registry.auth_config()
    )
    for ref in (docker_registry.busybox, docker_auth_registry.busybox):
        docker_client.images.remove(ref)
