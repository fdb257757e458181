"""pytest fixtures over :mod:`kubert_docker.testing`: a private engine per session, its client,
and registries. Enable them with ``pytest_plugins = ["kubert_docker.testing.fixtures"]`` (or
import the fixtures into a conftest).

Without dockerd on PATH or without root the fixtures skip, saying why
(``KUBERT_REQUIRE_DOCKER=1`` turns that skip into a failure). A dockerd that is there but does
not start is a failure with its log.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubert_docker.testing.engine import (
    DockerEngine,
    EngineFailed,
    EngineUnavailable,
    running_engine,
)
from kubert_docker.testing.registry import Registry, running_registry


@contextlib.contextmanager
def as_test_outcome() -> Iterator[None]:
    """An engine that cannot run here skips (or fails, when required); one that breaks fails."""
    try:
        yield
    except EngineUnavailable as exc:
        if os.environ.get("KUBERT_REQUIRE_DOCKER", "") not in ("", "0"):
            pytest.fail(f"dockerd is required (KUBERT_REQUIRE_DOCKER) but {exc}", pytrace=False)
        pytest.skip(f"no private dockerd: {exc}")
    except EngineFailed as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    """A private dockerd for the session, with the busybox and pause images present."""
    root = Path(tempfile.mkdtemp(prefix="kubert-dockerd-"))
    with as_test_outcome(), running_engine(root) as engine:
        yield engine
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def docker_client(docker_engine: DockerEngine) -> Iterator[Any]:
    """A docker SDK client for the private engine, shared by the session."""
    client = docker_engine.client()
    yield client
    client.close()


@pytest.fixture
def clean_engine(docker_engine: DockerEngine) -> Iterator[DockerEngine]:
    """The private engine, with every container removed after the test."""
    yield docker_engine
    docker_engine.remove_all_containers()


@pytest.fixture(scope="session")
def docker_registry(docker_engine: DockerEngine) -> Iterator[Registry]:
    """A plain-HTTP registry on 127.0.0.1 holding ``kubert/busybox`` and ``kubert/pause``."""
    with as_test_outcome(), running_registry(docker_engine, auth=False) as registry:
        yield registry


@pytest.fixture(scope="session")
def docker_auth_registry(docker_engine: DockerEngine) -> Iterator[Registry]:
    """The same, demanding htpasswd basic auth (``REGISTRY_USER`` / ``REGISTRY_PASSWORD``)."""
    with as_test_outcome(), running_registry(docker_engine, auth=True) as registry:
        yield registry
