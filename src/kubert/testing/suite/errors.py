"""Misuse gets the typed error the CRI maps to a status code: unknown IDs are NotFound."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kubert.backends import RuntimeBackend
from kubert.errors import NotFoundError
from kubert.model import ImageSpec
from kubert.testing.configs import ConfigFactory
from kubert.testing.suite.base import BackendFixtures, Pods

__all__ = ["ErrorTests"]

UNKNOWN_ID = "feed" * 16

#: The calls that take one sandbox ID (and those that take one container ID), by name;
#: the state machine calls them with IDs that never existed.
SANDBOX_ID_CALLS: dict[str, Callable[[RuntimeBackend, str], Any]] = {
    "sandbox_status": lambda b, i: b.sandbox_status(i),
    "start_sandbox": lambda b, i: b.start_sandbox(i),
    "stop_sandbox": lambda b, i: b.stop_sandbox(i),
    "remove_sandbox": lambda b, i: b.remove_sandbox(i),
}
CONTAINER_ID_CALLS: dict[str, Callable[[RuntimeBackend, str], Any]] = {
    "container_status": lambda b, i: b.container_status(i),
    "start_container": lambda b, i: b.start_container(i),
    "stop_container": lambda b, i: b.stop_container(i, 0),
    "remove_container": lambda b, i: b.remove_container(i),
}


class ErrorTests(BackendFixtures):
    @pytest.mark.parametrize("operation", sorted(SANDBOX_ID_CALLS))
    def test_unknown_sandbox_id(
        self, backend: RuntimeBackend, pods: Pods, operation: str
    ) -> None:
        with pytest.raises(NotFoundError):
            SANDBOX_ID_CALLS[operation](backend, UNKNOWN_ID)

    @pytest.mark.parametrize("operation", sorted(CONTAINER_ID_CALLS))
    def test_unknown_container_id(
        self, backend: RuntimeBackend, pods: Pods, operation: str
    ) -> None:
        with pytest.raises(NotFoundError):
            CONTAINER_ID_CALLS[operation](backend, UNKNOWN_ID)

    @pytest.mark.parametrize("operation", sorted(SANDBOX_ID_CALLS))
    def test_removed_sandbox_id(
        self, backend: RuntimeBackend, pods: Pods, operation: str
    ) -> None:
        sandbox_id = pods.sandbox()
        backend.remove_sandbox(sandbox_id)
        with pytest.raises(NotFoundError):
            SANDBOX_ID_CALLS[operation](backend, sandbox_id)

    @pytest.mark.parametrize("operation", sorted(CONTAINER_ID_CALLS))
    def test_removed_container_id(
        self, backend: RuntimeBackend, pods: Pods, operation: str
    ) -> None:
        container_id = pods.container(pods.sandbox())
        backend.remove_container(container_id)
        with pytest.raises(NotFoundError):
            CONTAINER_ID_CALLS[operation](backend, container_id)

    def test_missing_image_is_not_found(
        self, backend: RuntimeBackend, pods: Pods, configs: ConfigFactory
    ) -> None:
        sandbox_id = pods.sandbox()
        config = configs.container(image=ImageSpec(image="kubert.invalid/absent:0"))
        with pytest.raises(NotFoundError):
            backend.create_container(sandbox_id, config, pods.sandbox_configs[sandbox_id])
