"""ConfigMap and Secret objects: their manifest models, checks, and one model for both.

A manifest's ConfigMap or Secret is loaded into its attrs model (field-path errors like a pod),
checked (name, keys, base64), and turned into a :class:`KubeObject`: the kind, identity and the
bytes of every key, which is what the object store keeps and volumes and env read.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from attrs import field, frozen

from kubert.kubelet.manifest import ManifestError, Notices, load_model
from kubert.kubelet.pod import ObjectMeta

CONFIG_MAP = "ConfigMap"
SECRET = "Secret"
KINDS = (CONFIG_MAP, SECRET)
#: The kind a command-line name means (``kubert get cm``).
KIND_NAMES = {
    "configmap": CONFIG_MAP, "configmaps": CONFIG_MAP, "cm": CONFIG_MAP,
    "secret": SECRET, "secrets": SECRET,
}
DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"

_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@frozen(kw_only=True)
class ConfigMapManifest:
    api_version: str = field(default="v1", metadata={"choices": ("v1",)})
    kind: str = field(default=CONFIG_MAP, metadata={"choices": (CONFIG_MAP,)})
    metadata: ObjectMeta
    data: dict[str, str] = field(factory=dict)
    binary_data: dict[str, str] = field(factory=dict)
    immutable: bool = False


@frozen(kw_only=True)
class SecretManifest:
    api_version: str = field(default="v1", metadata={"choices": ("v1",)})
    kind: str = field(default=SECRET, metadata={"choices": (SECRET,)})
    metadata: ObjectMeta
    type: str = "Opaque"
    data: dict[str, str] = field(factory=dict)
    string_data: dict[str, str] = field(factory=dict)
    immutable: bool = False


@frozen(kw_only=True)
class KubeObject:
    """A stored ConfigMap or Secret: ``data`` maps each key to its bytes."""

    kind: str
    name: str
    namespace: str = "default"
    labels: dict[str, str] = field(factory=dict)
    annotations: dict[str, str] = field(factory=dict)
    type: str = ""
    immutable: bool = False
    data: dict[str, bytes] = field(factory=dict)

    @property
    def ref(self) -> str:
        """``configmap/name``, as commands print it."""
        return f"{self.kind.lower()}/{self.name}"

    def text(self, key: str) -> str:
        """The value of ``key`` as text (env variables are text)."""
        return self.data[key].decode("utf-8", errors="replace")


def object_from_dict(data: Any, source: str = "", notices: Notices | None = None) -> KubeObject:
    """A ConfigMap or Secret from a decoded manifest.

    :raises ManifestError: every problem with its field path (bad keys, bad base64, a key
        given twice in a ConfigMap's ``data`` and ``binaryData``).
    """
    kind = data.get("kind") if isinstance(data, dict) else None
    problems: list[tuple[str, str]] = []
    values: dict[str, bytes] = {}
    if kind == CONFIG_MAP:
        cm = load_model(ConfigMapManifest, data, source, notices)
        meta, immutable, type_ = cm.metadata, cm.immutable, ""
        values = {k: v.encode() for k, v in cm.data.items()}
        for key, encoded in cm.binary_data.items():
            if key in values:
                problems.append((f"binaryData[{key!r}]", "key also in data"))
            values[key] = _decode(f"binaryData[{key!r}]", encoded, problems)
    elif kind == SECRET:
        secret = load_model(SecretManifest, data, source, notices)
        meta, immutable, type_ = secret.metadata, secret.immutable, secret.type
        values = {k: _decode(f"data[{k!r}]", v, problems) for k, v in secret.data.items()}
        # stringData is write-only and wins over data, as on the API server.
        values.update({k: v.encode() for k, v in secret.string_data.items()})
    else:
        raise ManifestError(source, [("kind", f"must be ConfigMap or Secret (got {kind!r})")])
    if not _DNS_SUBDOMAIN.match(meta.name):
        problems.append(("metadata.name", f"must be a DNS subdomain (got {meta.name!r})"))
    if not _DNS_LABEL.match(meta.namespace):
        problems.append(("metadata.namespace", f"must be a DNS label (got {meta.namespace!r})"))
    problems += [
        (f"data[{key!r}]", "keys are letters, digits, '-', '_' or '.'")
        for key in values
        if not _KEY.match(key) or key in (".", "..")
    ]
    if type_ == DOCKER_CONFIG_JSON and ".dockerconfigjson" not in values:
        problems.append(("data", f"a {DOCKER_CONFIG_JSON} secret needs the key .dockerconfigjson"))
    if problems:
        raise ManifestError(source, problems)
    return KubeObject(
        kind=kind, name=meta.name, namespace=meta.namespace, labels=meta.labels,
        annotations=meta.annotations, type=type_, immutable=immutable, data=values,
    )


def _decode(path: str, encoded: str, problems: list[tuple[str, str]]) -> bytes:
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        problems.append((path, "not valid base64"))
        return b""
