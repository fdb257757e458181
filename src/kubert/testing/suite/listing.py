"""ListPodSandbox and ListContainers with every filter field: ID (exact and prefix), state,
label selector, sandbox ID."""

from __future__ import annotations

from kubert.backends import RuntimeBackend
from kubert.model import (
    ContainerFilter,
    ContainerState,
    PodSandboxFilter,
    PodSandboxState,
)
from kubert.testing.configs import ConfigFactory
from kubert.testing.strategies import ContainerSpec, SandboxSpec
from kubert.testing.suite.base import BackendFixtures, Pods

__all__ = ["ListingTests"]


class ListingTests(BackendFixtures):
    def test_sandbox_filters(
        self, backend: RuntimeBackend, pods: Pods, configs: ConfigFactory
    ) -> None:
        web = pods.sandbox(configs.sandbox(SandboxSpec("web", labels={"app": "web"})))
        db = pods.sandbox(configs.sandbox(SandboxSpec("db", labels={"app": "db", "x": "1"})))
        backend.stop_sandbox(db)
        mine = {web, db}

        def ids(f: PodSandboxFilter | None) -> set[str]:
            return {s.id for s in backend.list_sandboxes(f)} & mine

        assert ids(None) == mine
        assert ids(PodSandboxFilter(id=web)) == {web}
        assert web in ids(PodSandboxFilter(id=web[:12]))
        assert all(s.id.startswith(web[:12]) for s in backend.list_sandboxes(
            PodSandboxFilter(id=web[:12])
        ))
        assert ids(PodSandboxFilter(state=PodSandboxState.SANDBOX_READY)) == {web}
        assert ids(PodSandboxFilter(state=PodSandboxState.SANDBOX_NOTREADY)) == {db}
        assert ids(PodSandboxFilter(label_selector={"app": "db"})) == {db}
        assert ids(PodSandboxFilter(label_selector={"app": "db", "x": "2"})) == set()
        assert ids(PodSandboxFilter(id=web, state=PodSandboxState.SANDBOX_NOTREADY)) == set()
        assert backend.list_sandboxes(PodSandboxFilter(id="f" * 64)) == []

    def test_container_filters(
        self, backend: RuntimeBackend, pods: Pods, configs: ConfigFactory
    ) -> None:
        one, two = pods.sandbox(), pods.sandbox()
        running = pods.container(one, configs.container(ContainerSpec("a", labels={"k": "v"})),
                                 start=True)
        created = pods.container(one, configs.container(ContainerSpec("b")))
        exited = pods.exited(two, 0)
        mine = {running, created, exited}

        def ids(f: ContainerFilter | None) -> set[str]:
            return {c.id for c in backend.list_containers(f)} & mine

        assert ids(None) == mine
        assert ids(ContainerFilter(id=created)) == {created}
        assert created in ids(ContainerFilter(id=created[:12]))
        assert ids(ContainerFilter(pod_sandbox_id=one)) == {running, created}
        assert ids(ContainerFilter(pod_sandbox_id=two)) == {exited}
        assert ids(ContainerFilter(state=ContainerState.CONTAINER_RUNNING)) == {running}
        assert ids(ContainerFilter(state=ContainerState.CONTAINER_CREATED)) == {created}
        assert ids(ContainerFilter(state=ContainerState.CONTAINER_EXITED)) == {exited}
        assert ids(ContainerFilter(label_selector={"k": "v"})) == {running}
        assert ids(ContainerFilter(pod_sandbox_id=two, label_selector={"k": "v"})) == set()
        assert backend.list_containers(ContainerFilter(id="f" * 64)) == []
        entries = {c.id: c for c in backend.list_containers(ContainerFilter(pod_sandbox_id=one))}
        assert entries[running].pod_sandbox_id == one
