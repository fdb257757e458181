"""Builders for the kubelet tests: pods from short YAML, runtime statuses by hand."""

from __future__ import annotations

import itertools

from kubert.kubelet import (
    ContainerRuntimeStatus,
    Pod,
    PodRuntimeStatus,
    container_hash,
    labels,
    load_pods,
    pod_spec_hash,
)
from kubert.kubelet.edits import pod_shape, shape_text
from kubert.model import (
    ContainerMetadata,
    ContainerState,
    ContainerStatus,
    ImageSpec,
    LinuxPodSandboxStatus,
    Namespace,
    NamespaceMode,
    NamespaceOption,
    PodSandboxMetadata,
    PodSandboxNetworkStatus,
    PodSandboxState,
    PodSandboxStatus,
)

_ids = itertools.count(1)


def pod(yaml_text: str) -> Pod:
    return load_pods(yaml_text)[0]


def sandbox(
    p: Pod,
    *,
    ready: bool = True,
    attempt: int = 0,
    ip: str = "10.0.0.2",
    host_network: bool | None = None,
    spec_hash: str | None = None,
) -> PodSandboxStatus:
    host = p.spec.host_network if host_network is None else host_network
    return PodSandboxStatus(
        id=f"sb{next(_ids):04d}",
        metadata=PodSandboxMetadata(name=p.name, uid=p.uid, namespace=p.namespace, attempt=attempt),
        state=PodSandboxState.SANDBOX_READY if ready else PodSandboxState.SANDBOX_NOTREADY,
        created_at=next(_ids),
        network=PodSandboxNetworkStatus(ip="" if host else ip),
        linux=LinuxPodSandboxStatus(
            namespaces=Namespace(
                options=NamespaceOption(network=NamespaceMode.NODE if host else NamespaceMode.POD)
            )
        ),
        labels={labels.POD_UID: p.uid},
        annotations={
            labels.POD_SPEC_HASH: spec_hash or pod_spec_hash(p),
            labels.POD_SPEC: shape_text(pod_shape(p)),
        },
    )


def container(
    p: Pod,
    name: str,
    sb: PodSandboxStatus,
    state: ContainerState,
    *,
    exit_code: int = 0,
    restarts: int = 0,
    hash_: str | None = None,
    kind: str | None = None,
) -> ContainerRuntimeStatus:
    spec = p.find_container(name)
    if kind is None:
        kind = "regular"
        if spec is not None and spec in p.spec.init_containers:
            kind = "sidecar" if spec.is_sidecar else "init"
    cid = f"c{next(_ids):06d}"
    return ContainerRuntimeStatus(
        id=cid,
        sandbox_id=sb.id,
        status=ContainerStatus(
            id=cid,
            metadata=ContainerMetadata(name=name, attempt=restarts),
            state=state,
            created_at=next(_ids),
            exit_code=exit_code,
            image=ImageSpec(image="busybox"),
            annotations={
                labels.CONTAINER_HASH: hash_ or (container_hash(spec) if spec else "x"),
                labels.RESTART_COUNT: str(restarts),
                labels.CONTAINER_TYPE: kind,
            },
        ),
    )


def status(
    p: Pod, sandboxes: list[PodSandboxStatus], containers: list[ContainerRuntimeStatus]
) -> PodRuntimeStatus:
    """Newest first, as observe_pod orders them (later-built objects are newer)."""
    return PodRuntimeStatus(
        uid=p.uid,
        name=p.name,
        namespace=p.namespace,
        sandboxes=sorted(sandboxes, key=lambda s: s.created_at, reverse=True),
        containers=sorted(containers, key=lambda c: c.status.created_at, reverse=True),
    )


RUNNING = ContainerState.CONTAINER_RUNNING
EXITED = ContainerState.CONTAINER_EXITED
UNKNOWN = ContainerState.CONTAINER_UNKNOWN
