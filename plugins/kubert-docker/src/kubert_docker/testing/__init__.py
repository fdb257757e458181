"""Public test helpers of kubert-docker: a private dockerd started and stopped by pid, locally
built busybox and pause images, and a registry on 127.0.0.1 — none of it needs pytest.

``kubert_docker.testing.fixtures`` wraps them as pytest fixtures (``docker_engine``,
``docker_registry`` …) for a backend author who runs kubert's conformance suite on Docker.
"""

from kubert_docker.testing.engine import (
    BUSYBOX,
    BUSYBOX_USER,
    DEFAULT_PAUSE,
    PAUSE,
    DockerEngine,
    EngineFailed,
    EngineUnavailable,
    build_images,
    running_engine,
    start_dockerd,
    stop_pid,
)
from kubert_docker.testing.registry import (
    REGISTRY_PASSWORD,
    REGISTRY_USER,
    Registry,
    running_registry,
)

__all__ = [
    "BUSYBOX",
    "BUSYBOX_USER",
    "DEFAULT_PAUSE",
    "PAUSE",
    "REGISTRY_PASSWORD",
    "REGISTRY_USER",
    "DockerEngine",
    "EngineFailed",
    "EngineUnavailable",
    "Registry",
    "build_images",
    "running_engine",
    "running_registry",
    "start_dockerd",
    "stop_pid",
]
