"""Status fields: metadata, timestamps in nanoseconds, labels and annotations returned exactly
(statuses as copies, list entries never changed once handed out), image, runtime handler."""

from __future__ import annotations

import time
from typing import Any

from hypothesis import given, settings

from kubert.backends import RuntimeBackend
from kubert.model import ContainerState, PodSandboxState
from kubert.testing import profiles, strategies
from kubert.testing.configs import ConfigFactory
from kubert.testing.strategies import ContainerSpec, SandboxSpec
from kubert.testing.suite.base import BackendFixtures, Pods

__all__ = ["StatusFieldTests"]

_YEAR_2020_NS = 1_577_836_800 * 10**9


class StatusFieldTests(BackendFixtures):
    def test_sandbox_status_fields(
        self, backend: RuntimeBackend, pods: Pods, configs: ConfigFactory
    ) -> None:
        before = time.time_ns()
        config = configs.sandbox(
            SandboxSpec("fields", labels={"app": "x"}, annotations={"note": "{\"a\": [1]} ü"})
        )
        sandbox_id = pods.sandbox(config)
        status = backend.sandbox_status(sandbox_id)
        assert status.id == sandbox_id
        assert status.metadata == config.metadata
        assert status.labels == config.labels
        assert status.annotations == config.annotations
        assert status.runtime_handler == ""
        # Nanoseconds since the epoch, taken during the call (allowing coarse clocks).
        assert status.created_at > _YEAR_2020_NS
        assert before - 10**9 <= status.created_at <= time.time_ns() + 10**9
        [entry] = [s for s in backend.list_sandboxes(None) if s.id == sandbox_id]
        assert (entry.metadata, entry.created_at, entry.labels, entry.annotations) == (
            status.metadata, status.created_at, status.labels, status.annotations,
        )

    def test_container_status_fields(
        self, backend: RuntimeBackend, pods: Pods, configs: ConfigFactory
    ) -> None:
        sandbox_id = pods.sandbox()
        config = configs.container(
            ContainerSpec("fields", attempt=2, labels={"a": "b"}, annotations={"n": "multi\nline"})
        )
        container_id = pods.container(sandbox_id, config)
        created = backend.container_status(container_id)
        assert created.id == container_id
        assert created.metadata == config.metadata
        assert created.labels == config.labels
        assert created.annotations == config.annotations
        assert created.image.image == config.image.image
        assert created.image_ref
        assert created.started_at == 0 and created.finished_at == 0
        assert created.created_at > _YEAR_2020_NS
        backend.start_container(container_id)
        running = backend.container_status(container_id)
        assert running.started_at >= running.created_at
        backend.stop_container(container_id, 0)
        exited = backend.container_status(container_id)
        assert exited.state == ContainerState.CONTAINER_EXITED
        assert exited.finished_at >= exited.started_at == running.started_at
        assert exited.created_at == created.created_at
        [entry] = [c for c in backend.list_containers(None) if c.id == container_id]
        assert entry.pod_sandbox_id == sandbox_id
        assert (entry.metadata, entry.labels, entry.annotations) == (
            config.metadata, config.labels, config.annotations,
        )

    def test_status_maps_are_copies_and_list_entries_never_change(
        self, backend: RuntimeBackend, pods: Pods, configs: ConfigFactory
    ) -> None:
        """Statuses are the caller's to change; list entries are read-only and may be shared,
        so an entry once handed out stays as it was: a change is a new entry."""
        sandbox_id = pods.sandbox(configs.sandbox(SandboxSpec("copies", labels={"a": "1"})))
        backend.sandbox_status(sandbox_id).labels["injected"] = "x"
        assert backend.sandbox_status(sandbox_id).labels == {"a": "1"}
        [before] = [s for s in backend.list_sandboxes(None) if s.id == sandbox_id]
        backend.stop_sandbox(sandbox_id)
        [after] = [s for s in backend.list_sandboxes(None) if s.id == sandbox_id]
        assert before.state == PodSandboxState.SANDBOX_READY and before.labels == {"a": "1"}
        assert after.state == PodSandboxState.SANDBOX_NOTREADY and after.labels == {"a": "1"}

    def test_labels_and_annotations_round_trip_exactly(
        self,
        backend: RuntimeBackend,
        pods: Pods,
        configs: ConfigFactory,
        hypothesis_settings: dict[str, Any],
    ) -> None:
        @settings(profiles.suite_settings(), **{"max_examples": 10, **hypothesis_settings})
        @given(
            labels=strategies.labels(), annotations=strategies.annotation_maps(),
            container_labels=strategies.labels(),
            container_annotations=strategies.annotation_maps(),
        )
        def round_trip(
            labels: dict[str, str],
            annotations: dict[str, str],
            container_labels: dict[str, str],
            container_annotations: dict[str, str],
        ) -> None:
            sandbox_id = pods.sandbox(configs.sandbox(labels=labels, annotations=annotations))
            container_id = pods.container(
                sandbox_id,
                configs.container(labels=container_labels, annotations=container_annotations),
            )
            try:
                status = backend.sandbox_status(sandbox_id)
                assert (status.labels, status.annotations) == (labels, annotations)
                [entry] = [s for s in backend.list_sandboxes(None) if s.id == sandbox_id]
                assert (entry.labels, entry.annotations) == (labels, annotations)
                container = backend.container_status(container_id)
                assert (container.labels, container.annotations) == (
                    container_labels, container_annotations,
                )
            finally:
                backend.remove_sandbox(sandbox_id)

        round_trip()
