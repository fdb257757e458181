"""The downward API: the pod fields env ``fieldRef`` and downwardAPI volumes expose."""

from __future__ import annotations

import re
from collections.abc import Sequence

from kubert.errors import InvalidArgumentError
from kubert.kubelet.pod import Pod

_LABEL_REF = re.compile(r"^metadata\.(labels|annotations)\['([^'\]]+)'\]$")


def resolve_field_ref(pod: Pod, path: str, pod_ips: Sequence[str]) -> str:
    """The value of the pod field ``path`` (metadata.*, status.podIP(s))."""
    simple = {
        "metadata.name": pod.name,
        "metadata.namespace": pod.namespace,
        "metadata.uid": pod.uid,
        "status.podIP": pod_ips[0] if pod_ips else "",
        "status.podIPs": ",".join(pod_ips),
    }
    if path in simple:
        return simple[path]
    if path in ("metadata.labels", "metadata.annotations"):
        # A whole map, one key="value" line per entry sorted by key, as the kubelet writes it.
        values = pod.metadata.labels if path == "metadata.labels" else pod.metadata.annotations
        return "\n".join(f'{k}="{_quote(v)}"' for k, v in sorted(values.items()))
    match = _LABEL_REF.match(path)
    if match is None:
        raise InvalidArgumentError("fieldRef.fieldPath", path, "is not supported")
    source = pod.metadata.labels if match.group(1) == "labels" else pod.metadata.annotations
    return source.get(match.group(2), "")


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
