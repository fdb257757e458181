"""Spec hashes: a container's (stored on it, a change restarts it) and a pod's (on the sandbox,
a change replaces the pod).

Like the kubelet's container hash, it covers the container spec as written in the manifest
(defaults applied) but not ``resources``: resource changes are resized in place, not restarted.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import attrs

from kubert.kubelet.edits import pod_shape
from kubert.kubelet.manifest import to_manifest
from kubert.kubelet.pod import Container, Pod


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def container_hash(container: Container) -> str:
    """Hex hash of ``container``'s spec without its resources."""
    spec = to_manifest(attrs.evolve(container, resources=type(container.resources)()))
    return _digest(spec)


def pod_spec_hash(pod: Pod) -> str:
    """Hash of the part of the spec only a new pod can apply (:func:`~kubert.kubelet.edits.
    pod_shape`): everything but containers' images and resources, ephemeral containers, labels
    and annotations. A change replaces the pod as a whole."""
    return _digest(pod_shape(pod))
