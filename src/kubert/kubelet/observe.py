"""What the runtime holds for one pod, read over the CRI: its sandboxes and containers.

This is the kubelet's ``kubecontainer.PodStatus``: sandboxes and containers newest first, each
container with the hash, restart count and type the kubelet side wrote on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from attrs import field, frozen

from kubert.errors import NotFoundError
from kubert.kubelet import labels
from kubert.kubelet.runtime import RuntimeClient
from kubert.model import (
    ContainerFilter,
    ContainerState,
    ContainerStatus,
    LinuxContainerResources,
    PodSandboxFilter,
    PodSandboxState,
    PodSandboxStatus,
)


def _as_tuple(items: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(items)


@frozen(kw_only=True)
class ContainerRuntimeStatus:
    """One container as the runtime reports it, with the kubelet side's annotations decoded."""

    id: str
    sandbox_id: str
    status: ContainerStatus

    @property
    def name(self) -> str:
        return self.status.metadata.name

    @property
    def attempt(self) -> int:
        return self.status.metadata.attempt

    @property
    def state(self) -> ContainerState:
        return self.status.state

    @property
    def exit_code(self) -> int:
        return self.status.exit_code

    @property
    def hash(self) -> str:
        return self.status.annotations.get(labels.CONTAINER_HASH, "")

    @property
    def restart_count(self) -> int:
        return labels.int_annotation(self.status.annotations, labels.RESTART_COUNT)

    @property
    def kind(self) -> str:
        """init, sidecar, regular or ephemeral ("" for containers kubert did not make)."""
        return self.status.annotations.get(labels.CONTAINER_TYPE, "")

    @property
    def field_refs(self) -> dict[str, str]:
        """The fieldRef values the container's environment was built with."""
        return labels.json_annotation(self.status.annotations, labels.FIELD_REFS)

    @property
    def resources(self) -> LinuxContainerResources | None:
        """Resources in force: as the runtime reports them, else as created."""
        if self.status.resources is not None and self.status.resources.linux is not None:
            return self.status.resources.linux
        raw = self.status.annotations.get(labels.RESOURCES)
        if not raw:
            return None
        try:
            return LinuxContainerResources(**json.loads(raw))
        except (TypeError, ValueError):
            return None

    @property
    def running(self) -> bool:
        return self.status.state == ContainerState.CONTAINER_RUNNING


@frozen(kw_only=True)
class PodRuntimeStatus:
    """A pod's sandboxes and containers, newest first; empty when the runtime has none."""

    uid: str
    name: str = ""
    namespace: str = ""
    sandboxes: tuple[PodSandboxStatus, ...] = field(default=(), converter=_as_tuple)
    containers: tuple[ContainerRuntimeStatus, ...] = field(default=(), converter=_as_tuple)

    @property
    def sandbox(self) -> PodSandboxStatus | None:
        """The newest sandbox."""
        return self.sandboxes[0] if self.sandboxes else None

    @property
    def ips(self) -> tuple[str, ...]:
        """The newest ready sandbox's IPs, primary first."""
        sandbox = self.sandbox
        if sandbox is None or sandbox.state != PodSandboxState.SANDBOX_READY:
            return ()
        network = sandbox.network
        if network is None or not network.ip:
            return ()
        return (network.ip, *(extra.ip for extra in network.additional_ips))

    def find(self, name: str) -> ContainerRuntimeStatus | None:
        """The newest container called ``name``."""
        for container in self.containers:
            if container.name == name:
                return container
        return None

    def all_named(self, name: str) -> list[ContainerRuntimeStatus]:
        return [c for c in self.containers if c.name == name]

    def in_sandbox(self, sandbox_id: str) -> PodRuntimeStatus:
        """The same status with only the containers of sandbox ``sandbox_id``."""
        return PodRuntimeStatus(
            uid=self.uid,
            name=self.name,
            namespace=self.namespace,
            sandboxes=self.sandboxes,
            containers=[c for c in self.containers if c.sandbox_id == sandbox_id],
        )

    def running_containers(self) -> list[ContainerRuntimeStatus]:
        return [c for c in self.containers if c.running]


def observe_pod(runtime: RuntimeClient, uid: str) -> PodRuntimeStatus:
    """Read the pod ``uid``'s sandboxes and containers from the runtime."""
    selector = labels.pod_selector(uid)
    sandboxes = []
    for entry in runtime.list_pod_sandbox(PodSandboxFilter(label_selector=selector)):
        try:
            sandboxes.append(runtime.pod_sandbox_status(entry.id))
        except NotFoundError:
            continue
    sandboxes.sort(key=lambda s: (s.created_at, s.metadata.attempt), reverse=True)
    containers = []
    for item in runtime.list_containers(ContainerFilter(label_selector=selector)):
        try:
            status = runtime.container_status(item.id)
        except NotFoundError:
            continue
        containers.append(
            ContainerRuntimeStatus(id=item.id, sandbox_id=item.pod_sandbox_id, status=status)
        )
    containers.sort(key=lambda c: (c.status.created_at, c.attempt), reverse=True)
    name = namespace = ""
    for sandbox_labels in _labels(sandboxes):
        name = sandbox_labels.get(labels.POD_NAME, name)
        namespace = sandbox_labels.get(labels.POD_NAMESPACE, namespace)
    return PodRuntimeStatus(
        uid=uid, name=name, namespace=namespace, sandboxes=sandboxes, containers=containers
    )


def _labels(sandboxes: Iterable[PodSandboxStatus]) -> Iterable[dict[str, str]]:
    for sandbox in sandboxes:
        yield sandbox.labels


def list_pod_uids(runtime: RuntimeClient) -> dict[str, tuple[str, str]]:
    """Every pod uid that has a sandbox on the runtime, with its (namespace, name)."""
    out: dict[str, tuple[str, str]] = {}
    for sandbox in runtime.list_pod_sandbox(None):
        uid = sandbox.labels.get(labels.POD_UID)
        if uid:
            out[uid] = (
                sandbox.labels.get(labels.POD_NAMESPACE, ""),
                sandbox.labels.get(labels.POD_NAME, ""),
            )
    return out
