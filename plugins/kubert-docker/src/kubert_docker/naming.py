"""Engine object names and labels: dockershim's conventions, plus one label for exact round-trips.

Names are ``k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`` (``POD`` for the sandbox) and
the labels ``io.kubernetes.docker.type`` / ``io.kubernetes.sandbox.id`` /
``io.kubernetes.container.logpath`` are written as dockershim wrote them, CRI labels as they are
and annotations under ``annotation.``, so existing tooling recognises kubert's containers. What
kubert reads back comes from :data:`META_LABEL`, a JSON record holding the CRI labels,
annotations and metadata exactly, so a CRI label that looks like an internal one survives too.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

from attrs import field, frozen

KUBE_PREFIX = "k8s"
SANDBOX_CONTAINER_NAME = "POD"

TYPE_LABEL = "io.kubernetes.docker.type"
TYPE_SANDBOX = "podsandbox"
TYPE_CONTAINER = "container"
SANDBOX_ID_LABEL = "io.kubernetes.sandbox.id"
LOG_PATH_LABEL = "io.kubernetes.container.logpath"
ANNOTATION_PREFIX = "annotation."
#: dockershim's name label; on a sandbox container it is "POD" and not a CRI label.
SHIM_CONTAINER_NAME_LABEL = "io.kubernetes.container.name"
#: kubert's own record: CRI metadata, labels, annotations and settings as JSON.
META_LABEL = "io.kubert.meta"

INTERNAL_LABELS = frozenset({TYPE_LABEL, SANDBOX_ID_LABEL, LOG_PATH_LABEL, META_LABEL})


def sandbox_name(name: str, namespace: str, uid: str, attempt: int) -> str:
    return "_".join((KUBE_PREFIX, SANDBOX_CONTAINER_NAME, name, namespace, uid, str(attempt)))


def container_name(
    container: str, pod: str, namespace: str, uid: str, attempt: int
) -> str:
    return "_".join((KUBE_PREFIX, container, pod, namespace, uid, str(attempt)))


def randomized(name: str) -> str:
    """dockershim's way out of a stale name reservation: a random suffix the parser ignores."""
    return f"{name}_{secrets.token_hex(4)}"


@frozen(kw_only=True)
class Meta:
    """What kubert stores in :data:`META_LABEL` of every engine object it creates.

    :ivar kind: ``podsandbox`` or ``container``.
    :ivar metadata: the CRI metadata fields (name, attempt; plus namespace, uid for sandboxes).
    :ivar extra: backend-private settings (namespace options, port mappings, log path …).
    """

    kind: str
    metadata: dict[str, Any]
    labels: dict[str, str] = field(factory=dict)
    annotations: dict[str, str] = field(factory=dict)
    extra: dict[str, Any] = field(factory=dict)

    def encode(self) -> str:
        return json.dumps(
            {
                "kind": self.kind,
                "metadata": self.metadata,
                "labels": self.labels,
                "annotations": self.annotations,
                "extra": self.extra,
            },
            separators=(",", ":"),
            sort_keys=True,
        )

    @classmethod
    def decode(cls, text: str) -> Meta:
        data = json.loads(text)
        return cls(
            kind=data["kind"],
            metadata=data["metadata"],
            labels=data.get("labels", {}),
            annotations=data.get("annotations", {}),
            extra=data.get("extra", {}),
        )


def engine_labels(meta: Meta, sandbox_id: str = "", log_path: str = "") -> dict[str, str]:
    """The docker labels of a new object: dockershim's set plus :data:`META_LABEL`."""
    labels = {k: v for k, v in meta.labels.items() if k not in INTERNAL_LABELS}
    labels.update({ANNOTATION_PREFIX + k: v for k, v in meta.annotations.items()})
    labels[TYPE_LABEL] = meta.kind
    if sandbox_id:
        labels[SANDBOX_ID_LABEL] = sandbox_id
    if log_path:
        labels[LOG_PATH_LABEL] = log_path
    labels[META_LABEL] = meta.encode()
    return labels


def parse_name(name: str) -> tuple[str, str, str, str, int] | None:
    """(container, pod, namespace, uid, attempt) from a dockershim name, None if it is not one."""
    parts = name.lstrip("/").split("_")
    if len(parts) not in (6, 7) or parts[0] != KUBE_PREFIX:
        return None
    try:
        attempt = int(parts[5])
    except ValueError:
        return None
    return parts[1], parts[2], parts[3], parts[4], attempt


def meta_from_engine(name: str, labels: Mapping[str, str] | None) -> Meta | None:
    """The Meta of an engine object, None when it is not a CRI object.

    Objects made by dockershim or cri-dockerd carry no :data:`META_LABEL`; their metadata comes
    from the name and their labels and annotations from the docker labels, as those wrote them.
    """
    labels = labels or {}
    kind = labels.get(TYPE_LABEL)
    if kind not in (TYPE_SANDBOX, TYPE_CONTAINER):
        return None
    raw = labels.get(META_LABEL)
    if raw:
        try:
            return Meta.decode(raw)
        except (ValueError, KeyError, TypeError):
            pass  # fall through to the dockershim reading of the same object
    parsed = parse_name(name)
    if parsed is None:
        return None
    container, pod, namespace, uid, attempt = parsed
    if kind == TYPE_SANDBOX:
        metadata: dict[str, Any] = {
            "name": pod, "namespace": namespace, "uid": uid, "attempt": attempt,
        }
    else:
        metadata = {"name": container, "attempt": attempt}
    cri_labels = {
        k: v for k, v in labels.items()
        if k not in INTERNAL_LABELS and not k.startswith(ANNOTATION_PREFIX)
    }
    if kind == TYPE_SANDBOX:
        # dockershim marks its sandbox containers with this label and hides it from the CRI.
        cri_labels.pop(SHIM_CONTAINER_NAME_LABEL, None)
    annotations = {
        k[len(ANNOTATION_PREFIX):]: v for k, v in labels.items() if k.startswith(ANNOTATION_PREFIX)
    }
    extra: dict[str, Any] = {}
    if labels.get(LOG_PATH_LABEL):
        extra["log_path"] = labels[LOG_PATH_LABEL]
    return Meta(
        kind=kind, metadata=metadata, labels=cri_labels, annotations=annotations, extra=extra
    )
