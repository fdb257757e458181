"""The labels and annotations the kubelet side writes on sandboxes and containers, and reads back.

The ``io.kubernetes.*`` keys are the kubelet's own, so pods a real kubelet made on the same
runtime are recognised too; ``kubert.io/*`` keys are kubert's additions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

POD_NAME = "io.kubernetes.pod.name"
POD_NAMESPACE = "io.kubernetes.pod.namespace"
POD_UID = "io.kubernetes.pod.uid"
CONTAINER_NAME = "io.kubernetes.container.name"

CONTAINER_HASH = "io.kubernetes.container.hash"
RESTART_COUNT = "io.kubernetes.container.restartCount"
TERMINATION_GRACE = "io.kubernetes.pod.terminationGracePeriod"
CONTAINER_PORTS = "io.kubernetes.container.ports"
TERMINATION_MESSAGE_PATH = "io.kubernetes.container.terminationMessagePath"
TERMINATION_MESSAGE_POLICY = "io.kubernetes.container.terminationMessagePolicy"
#: The host file mounted at the container's terminationMessagePath (read by kubelet.lifecycle).
TERMINATION_LOG = "kubert.io/termination-log"

#: Which list the container came from: init, sidecar, regular or ephemeral.
CONTAINER_TYPE = "kubert.io/container-type"
#: JSON map of fieldRef path -> value the container's env was built with.
FIELD_REFS = "kubert.io/field-refs"
#: JSON of the LinuxContainerResources a container was created with (for resize decisions).
RESOURCES = "kubert.io/resources"
#: Hash of the pod-level spec the sandbox was built from; a change recreates the sandbox.
POD_SPEC_HASH = "kubert.io/pod-spec-hash"
#: JSON of that part of the spec (kubert.kubelet.edits.pod_shape): names what changed.
POD_SPEC = "kubert.io/pod-spec"
#: Where the pod came from: "apply" or "file:<path>" (static pod).
CONFIG_SOURCE = "kubert.io/config-source"

RESERVED_PREFIXES = ("io.kubernetes.", "kubert.io/")


def pod_selector(uid: str) -> dict[str, str]:
    """Label selector matching every sandbox and container of the pod ``uid``."""
    return {POD_UID: uid}


def int_annotation(annotations: Mapping[str, str], key: str, default: int = 0) -> int:
    try:
        return int(annotations.get(key, default))
    except ValueError:
        return default


def json_annotation(annotations: Mapping[str, str], key: str) -> dict[str, str]:
    try:
        value = json.loads(annotations.get(key, "{}"))
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}

