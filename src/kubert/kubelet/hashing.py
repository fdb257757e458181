"""Spec hashes: a container's (stored on it, a change restarts it) and a pod's sandbox-level one.

Like the kubelet's container hash, it covers the container spec as written in the manifest
(defaults applied) but not ``resources``: resource changes are resized in place, not restarted.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import attrs

from kubert.kubelet.manifest import pod_to_dict, to_manifest
from kubert.kubelet.pod import Container, Pod


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def container_hash(container: Container) -> str:
    """Hex hash of ``container``'s spec without its resources."""
    spec = to_manifest(attrs.evolve(container, resources=type(container.resources)()))
    return _digest(spec)


def pod_spec_hash(pod: Pod) -> str:
    """Hash of everything the sandbox is built from or that only a new sandbox can change.

    It covers the pod spec except regular and ephemeral containers and sidecars (those are
    compared one by one through :func:`container_hash`) and except labels and annotations.
    Run-to-completion init containers are included: they only run in a fresh sandbox.
    """
    spec = attrs.evolve(
        pod.spec,
        containers=(),
        ephemeral_containers=(),
        init_containers=tuple(c for c in pod.spec.init_containers if not c.is_sidecar),
    )
    skeleton = attrs.evolve(
        pod, spec=spec, metadata=attrs.evolve(pod.metadata, labels={}, annotations={})
    )
    return _digest(pod_to_dict(skeleton)["spec"])
