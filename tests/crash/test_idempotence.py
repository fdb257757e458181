"""Idempotence as CRI v1 requires it, over the real socket: stopping what is stopped and
removing what is gone succeed, for sandboxes and containers, also for IDs never seen; on the
in-memory runtime and on docker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kubert import (
    ContainerState,
    NotFoundError,
    PodSandboxConfig,
    PodSandboxMetadata,
    PodSandboxState,
)
from kubert.cri.client import CriClient
from tests.fixtures.pods import start_sleeper

NEVER_SEEN = "f" * 64


@pytest.fixture(params=["memory", pytest.param("docker", marks=pytest.mark.docker)])
def backend(
    request: pytest.FixtureRequest, cri_server_factory: Callable[..., Any]
) -> Iterator[tuple[CriClient, str]]:
    """A client of a server on the runtime named by the parameter, and the image to use."""
    if request.param == "memory":
        server, image = cri_server_factory(), "busybox:latest"
    else:
        from kubert_docker import plugin as docker_plugin

        engine = request.getfixturevalue("clean_engine")
        server = cri_server_factory(
            runtime="docker", plugins=(docker_plugin,), pod_infra_image=engine.pause,
            options={"docker": engine.backend_options()},
        )
        image = engine.busybox
    with server.client() as client:
        yield client, image


def _pod(client: CriClient, image: str) -> tuple[str, str]:
    config = PodSandboxConfig(
        metadata=PodSandboxMetadata(name="twice", namespace="idem", uid="uid-twice")
    )
    sandbox_id = client.run_pod_sandbox(config)
    container_id = start_sleeper(client, sandbox_id, config, image)
    return sandbox_id, container_id


def test_containers_stop_and_remove_twice(backend: tuple[CriClient, str]) -> None:
    cri_client, image = backend
    _, container_id = _pod(cri_client, image)
    cri_client.stop_container(container_id, 0)
    cri_client.stop_container(container_id, 0)
    assert cri_client.container_status(container_id).state == ContainerState.CONTAINER_EXITED
    cri_client.remove_container(container_id)
    cri_client.remove_container(container_id)
    cri_client.remove_container(NEVER_SEEN)
    with pytest.raises(NotFoundError):  # asking about it still says it is gone
        cri_client.container_status(container_id)


def test_sandboxes_stop_and_remove_twice(backend: tuple[CriClient, str]) -> None:
    cri_client, image = backend
    sandbox_id, container_id = _pod(cri_client, image)
    cri_client.stop_pod_sandbox(sandbox_id)
    cri_client.stop_pod_sandbox(sandbox_id)
    assert cri_client.pod_sandbox_status(sandbox_id).state == PodSandboxState.SANDBOX_NOTREADY
    cri_client.remove_pod_sandbox(sandbox_id)
    cri_client.remove_pod_sandbox(sandbox_id)
    cri_client.stop_pod_sandbox(sandbox_id)
    cri_client.remove_container(container_id)  # went with its sandbox
    cri_client.stop_pod_sandbox(NEVER_SEEN)
    cri_client.remove_pod_sandbox(NEVER_SEEN)
    assert cri_client.list_pod_sandbox() == [] and cri_client.list_containers() == []
