"""Fields a cluster writes that only the scheduler or the control plane act on.

A pod as ``kubectl get -o yaml`` prints it carries them (``schedulerName``, ``tolerations``,
``status``, ``metadata.managedFields`` ...). They change nothing a node does, so the manifest
loader accepts them and reports one notice per field instead of refusing the manifest.
Fields of the kubelet's own work that kubert does not do yet (readiness probes, lifecycle
hooks, probe handlers other than exec) are accepted the same way, with a notice saying they
are not run yet, unless the model has learnt them (then they are loaded normally).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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
    "Container": {
        "terminationMessagePath": "kubert reports no termination message",
        "terminationMessagePolicy": "kubert reports no termination message",
        "readinessProbe": "not run yet: kubert runs liveness and startup probes",
        "lifecycle": "not run yet: postStart / preStop hooks",
    },
}

#: Probe handlers a probe may use instead of ``exec``; a probe using one the model lacks is
#: dropped with a notice (it is not run yet) instead of failing for the missing ``exec``.
PROBE_HANDLERS = ("httpGet", "tcpSocket", "grpc")
PROBE_FIELDS = ("livenessProbe", "startupProbe", "readinessProbe")


def ignored_reason(cls: type, key: str) -> str:
    """Why field ``key`` of model ``cls`` is accepted and ignored; "" when it is not."""
    return IGNORED.get(cls.__name__, {}).get(key, "")


def unsupported_probe(cls: type, key: str, raw: Any, probe_fields: Iterable[str]) -> str:
    """A notice when ``raw`` (field ``key`` of model ``cls``) is a probe using a handler that is
    not among ``probe_fields`` (the manifest names the probe model knows); "" when the probe
    loads normally."""
    if cls.__name__ != "Container" or key not in PROBE_FIELDS or not isinstance(raw, dict):
        return ""
    known = set(probe_fields)
    if "exec" in raw and "exec" in known:
        return ""
    used = [h for h in PROBE_HANDLERS if h in raw and h not in known]
    return f"not run yet: {used[0]} probes" if used else ""
