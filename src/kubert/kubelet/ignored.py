"""Fields a cluster writes that only the scheduler or the control plane act on.

A pod as ``kubectl get -o yaml`` prints it carries them (``schedulerName``, ``tolerations``,
``status``, ``metadata.managedFields`` ...). They change nothing a node does, so the manifest
loader accepts them and reports one notice per field instead of refusing the manifest.
"""

from __future__ import annotations

_SCHEDULER = "used by the scheduler only"
_CONTROL_PLANE = "set by the control plane; a node does not use it"
_API_SERVER = "needs an API server, which kubert does not have"

#: Per model class name: field -> why it is ignored.
IGNORED: dict[str, dict[str, str]] = {
    "Pod": {"status": "written by the kubelet, not read from a manifest"},
    "ObjectMeta": {
        name: _CONTROL_PLANE
        for name in (
            "managedFields", "resourceVersion", "creationTimestamp", "generation",
            "ownerReferences", "selfLink", "generateName", "finalizers", "deletionTimestamp",
            "deletionGracePeriodSeconds",
        )
    },
    "PodSpec": {
        "serviceAccountName": _API_SERVER,
        "serviceAccount": _API_SERVER,
        "automountServiceAccountToken": _API_SERVER,
        "enableServiceLinks": "service environment variables need an API server",
        "schedulerName": _SCHEDULER,
        "tolerations": _SCHEDULER,
        "affinity": _SCHEDULER,
        "nodeSelector": _SCHEDULER,
        "nodeName": _SCHEDULER,
        "priority": _SCHEDULER,
        "priorityClassName": _SCHEDULER,
        "preemptionPolicy": _SCHEDULER,
        "topologySpreadConstraints": _SCHEDULER,
        "schedulingGates": _SCHEDULER,
        "overhead": _SCHEDULER,
        "readinessGates": _CONTROL_PLANE,
    },
}

def ignored_reason(cls: type, key: str) -> str:
    """Why field ``key`` of model ``cls`` is accepted and ignored; "" when it is not."""
    return IGNORED.get(cls.__name__, {}).get(key, "")
